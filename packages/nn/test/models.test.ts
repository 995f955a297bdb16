import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import * as nn from "../src/index.js";

/** LeNet-5 (LeCun et al. 1998) for 1×32×32 inputs, or 1×28×28 with `padding: 2`. */
function lenet5(padding = 0) {
  return nn.sequential({
    conv1: nn.conv2d({ inChannels: 1, outChannels: 6, kernelSize: 5, padding }),
    act1: nn.tanh(),
    pool1: nn.avgPool2d({ kernelSize: 2 }),
    conv2: nn.conv2d({ inChannels: 6, outChannels: 16, kernelSize: 5 }),
    act2: nn.tanh(),
    pool2: nn.avgPool2d({ kernelSize: 2 }),
    flatten: nn.flatten(),
    fc1: nn.linear({ inFeatures: 16 * 5 * 5, outFeatures: 120 }),
    act3: nn.tanh(),
    fc2: nn.linear({ inFeatures: 120, outFeatures: 84 }),
    act4: nn.tanh(),
    fc3: nn.linear({ inFeatures: 84, outFeatures: 10 }),
  });
}

/** Parameters of a conv layer with D2 filters of F×F×D1 and one bias each: (F·F·D1 + 1)·D2. */
const convParams = (f: number, d1: number, d2: number) => (f * f * d1 + 1) * d2;
const linearParams = (fanIn: number, fanOut: number) => (fanIn + 1) * fanOut;

describe("LeNet-5", () => {
  const expected = {
    conv1: convParams(5, 1, 6),
    conv2: convParams(5, 6, 16),
    fc1: linearParams(400, 120),
    fc2: linearParams(120, 84),
    fc3: linearParams(84, 10),
  };
  const total = Object.values(expected).reduce((a, b) => a + b, 0);

  it("has the classic per-layer and total parameter counts", () => {
    expect(expected.conv1).toBe(156);
    expect(expected.conv2).toBe(2416);
    expect(total).toBe(61_706);
    const s = nn.summarize(lenet5(), [1, 1, 32, 32]);
    const byPath = new Map(s.rows.map((row) => [row.path, row]));
    for (const [path, count] of Object.entries(expected)) {
      expect(byPath.get(path)!.params, path).toBe(count);
    }
    expect(byPath.get("conv1")!.outputShape).toEqual([1, 6, 28, 28]);
    expect(byPath.get("pool1")!.outputShape).toEqual([1, 6, 14, 14]);
    expect(byPath.get("conv2")!.outputShape).toEqual([1, 16, 10, 10]);
    expect(byPath.get("pool2")!.outputShape).toEqual([1, 16, 5, 5]);
    expect(s.outputShape).toEqual([1, 10]);
    expect(s.totalParams).toBe(total);
    expect(s.trainableParams).toBe(total);
    expect(s.nonTrainableParams).toBe(0);
  });

  it("prints a summary table with those numbers", () => {
    const text = nn.summary(lenet5(), [1, 1, 32, 32]);
    console.log(text);
    const row = (path: string) => text.split("\n").find((l) => l.trim().startsWith(`${path} `))!;
    expect(row("conv1")).toMatch(/conv2d\s+\[1, 6, 28, 28\]\s+156$/);
    expect(row("conv2")).toMatch(/conv2d\s+\[1, 16, 10, 10\]\s+2,416$/);
    expect(row("fc1")).toMatch(/linear\s+\[1, 120\]\s+48,120$/);
    expect(text).toContain(`Total params: ${total.toLocaleString("en-US")}`);
    expect(text).toContain(`Trainable params: ${total.toLocaleString("en-US")}`);
  });

  it("takes 28×28 inputs with padding 2, with the same counts", () => {
    const model = lenet5(2);
    const s = nn.summarize(model, [3, 1, 28, 28]);
    expect(s.rows.find((r) => r.path === "conv1")!.outputShape).toEqual([3, 6, 28, 28]);
    expect(s.outputShape).toEqual([3, 10]);
    expect(s.totalParams).toBe(total);
  });

  it("names its params by layer", () => {
    const { params } = lenet5().init(prng(0));
    expect(treeFlatten(params).map(([path]) => path)).toEqual([
      "conv1.weight",
      "conv1.bias",
      "conv2.weight",
      "conv2.bias",
      "fc1.weight",
      "fc1.bias",
      "fc2.weight",
      "fc2.bias",
      "fc3.weight",
      "fc3.bias",
    ]);
    expect(params.fc1.weight.shape).toEqual([120, 400]);
  });
});

/** conv → batch norm (→ relu), the unit of the blocks below. */
function convBn(inChannels: number, outChannels: number, kernelSize: number, relu = true) {
  const padding = (kernelSize - 1) / 2;
  const layers: Record<string, nn.Layer> = {
    conv: nn.conv2d({ inChannels, outChannels, kernelSize, padding, bias: false }),
    bn: nn.batchNorm2d({ numFeatures: outChannels }),
  };
  if (relu) layers.relu = nn.relu();
  return nn.sequential(layers);
}

/** A ResNet basic block that changes width: two 3×3 conv-bn, a 1×1 conv-bn projection. */
function basicBlock(inChannels: number, outChannels: number) {
  return nn.sequential({
    res: nn.residual(
      nn.sequential({
        a: convBn(inChannels, outChannels, 3),
        b: convBn(outChannels, outChannels, 3, false),
      }),
      convBn(inChannels, outChannels, 1, false),
    ),
    relu: nn.relu(),
  });
}

/** An Inception module: 1×1, 1×1→3×3, 1×1→5×5 and 3×3 max pool→1×1 branches on channels. */
function inception(
  c: number,
  b1: number,
  r3: number,
  b3: number,
  r5: number,
  b5: number,
  bp: number,
) {
  return nn.parallel({
    b1x1: convBn(c, b1, 1),
    b3x3: nn.sequential({ reduce: convBn(c, r3, 1), conv: convBn(r3, b3, 3) }),
    b5x5: nn.sequential({ reduce: convBn(c, r5, 1), conv: convBn(r5, b5, 5) }),
    pool: nn.sequential({
      pool: nn.maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
      proj: convBn(c, bp, 1),
    }),
  });
}

/**
 * Checks d(block(x))/d(params, x) in training mode, batch statistics included. Seeds are fixed:
 * a ReLU input within ~1e-6 of 0 would make the central difference itself wrong (a kink).
 */
function checkBlock(block: nn.Layer, inputShape: number[], seed: number) {
  const rng = prng(seed);
  const { params, state } = block.init(rng.split());
  const x = rng.normal(inputShape, { dtype: "float64" });
  const f = (p: unknown, input: Tensor) =>
    block.applyWithState(p, state, input, { training: true })[0];
  return checkGrads(f, [params, x], { atol: 1e-6, rtol: 1e-4 });
}

describe("blocks pass checkGrads end to end (float64, batch norm in training mode)", () => {
  it("a residual block with a projection shortcut", () => {
    const report = checkBlock(basicBlock(2, 3), [2, 2, 4, 4], 10);
    expect(report.checked).toBeGreaterThan(100);
  });

  it("a residual block with the identity shortcut", () => {
    const block = nn.residual(nn.sequential([convBn(2, 2, 3), convBn(2, 2, 3, false)]));
    const report = checkBlock(block, [2, 2, 4, 4], 11);
    expect(report.checked).toBeGreaterThan(100);
  });

  it("an Inception block with 1×1 reductions", () => {
    const block = inception(3, 2, 2, 2, 1, 2, 1);
    const rng = prng(20);
    const y = block.apply(block.init(rng).params, rng.normal([2, 3, 5, 5]), {
      state: block.init(rng).state,
    });
    expect(y.shape).toEqual([2, 2 + 2 + 2 + 1, 5, 5]);
    const report = checkBlock(block, [2, 3, 5, 5], 20);
    expect(report.checked).toBeGreaterThan(150);
  });

  it("a small ResNet-style model with dropout, pooling and a classifier head", () => {
    const model = nn.sequential({
      stem: convBn(1, 2, 3),
      block: basicBlock(2, 3),
      pool: nn.globalAvgPool2d(),
      flatten: nn.flatten(),
      drop: nn.dropout(0.5),
      head: nn.linear({ inFeatures: 3, outFeatures: 2 }),
    });
    const rng = prng(13);
    const { params, state } = model.init(rng.split());
    const x = rng.normal([2, 1, 4, 4], { dtype: "float64" });
    // A fresh generator per call: checkGrads re-evaluates f and needs the same dropout mask.
    const f = (p: typeof params, input: Tensor) =>
      model.applyWithState(p, state, input, { training: true, rng: prng(99) })[0];
    const report = checkGrads(f, [params, x], { atol: 1e-6, rtol: 1e-4 });
    expect(report.checked).toBeGreaterThan(100);
  });
});
