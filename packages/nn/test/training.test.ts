import {
  abs,
  add,
  argmax,
  equal,
  logSoftmax,
  mean,
  mul,
  neg,
  oneHot,
  prng,
  sub,
  sum,
  tensor,
  treeFlatten,
  treeMap,
  valueAndGrad,
  type Tensor,
} from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import * as nn from "../src/index.js";

/** Mean softmax cross-entropy of integer labels, written inline: −mean Σ oneHot·logSoftmax. */
function crossEntropy(logits: Tensor, labels: Tensor, classes: number): Tensor {
  return neg(mean(sum(mul(logSoftmax(logits, 1), oneHot(labels, classes)), { axis: 1 })));
}

function accuracy(logits: Tensor, labels: Tensor): number {
  return sum(equal(argmax(logits, { axis: 1 }), labels)).item() / labels.size;
}

describe("training through the layers' ops", () => {
  it("an MLP learns XOR to 100% accuracy with plain SGD", () => {
    const model = nn.sequential({
      hidden: nn.linear({ inFeatures: 2, outFeatures: 8 }),
      act: nn.tanh(),
      out: nn.linear({ inFeatures: 8, outFeatures: 2 }),
    });
    const x = tensor([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const y = tensor([0, 1, 1, 0], { dtype: "int32" });
    let { params } = model.init(prng(0));
    const lossAndGrad = valueAndGrad((p: typeof params) => crossEntropy(model.apply(p, x), y, 2));
    let loss = Infinity;
    for (let step = 0; step < 500; step++) {
      const [value, grads] = lossAndGrad(params);
      loss = value.item();
      params = treeMap((w: Tensor, g: Tensor) => sub(w, mul(g, 0.5)), params, grads);
    }
    console.log(`XOR: loss ${loss.toFixed(4)} after 500 steps`);
    expect(loss).toBeLessThan(0.05);
    expect(accuracy(model.apply(params, x), y)).toBe(1);
  });

  it("a small CNN overfits 64 random 1×12×12 images with random labels (all params learn)", () => {
    const rng = prng(1);
    const model = nn.sequential({
      conv1: nn.conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3, padding: 1 }),
      bn1: nn.batchNorm2d({ numFeatures: 8 }),
      relu1: nn.relu(),
      pool1: nn.maxPool2d({ kernelSize: 2 }),
      conv2: nn.conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3, padding: 1 }),
      relu2: nn.relu(),
      pool2: nn.avgPool2d({ kernelSize: 2 }),
      flatten: nn.flatten(),
      fc: nn.linear({ inFeatures: 16 * 3 * 3, outFeatures: 10 }),
    });
    const x = rng.normal([64, 1, 12, 12]);
    const y = rng.randint(0, 10, [64]);
    let { params, state } = model.init(rng.split());
    const initial = params;
    const lossAndGrad = valueAndGrad(
      (p: typeof params, s: typeof state) => {
        const [logits, next] = model.applyWithState(p, s, x, { training: true });
        return [crossEntropy(logits, y, 10), next] as const;
      },
      { hasAux: true },
    );
    // SGD with momentum, inline (optimizers live elsewhere).
    let velocity = treeMap((w: Tensor) => mul(w, 0), params);
    let firstGrads: typeof params | undefined;
    const start = performance.now();
    let steps = 0;
    let trainAccuracy = 0;
    for (; steps < 300 && trainAccuracy < 1; steps++) {
      const [[, next], grads] = lossAndGrad(params, state);
      firstGrads ??= grads;
      state = next;
      velocity = treeMap((v: Tensor, g: Tensor) => add(mul(v, 0.9), g), velocity, grads);
      params = treeMap((w: Tensor, v: Tensor) => sub(w, mul(v, 0.05)), params, velocity);
      if (steps % 10 === 9) {
        trainAccuracy = accuracy(model.apply(params, x, { state }), y);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(`CNN overfit: ${steps} steps, ${seconds.toFixed(1)} s, accuracy ${trainAccuracy}`);
    expect(trainAccuracy).toBe(1);
    // Every parameter received a non-zero gradient and moved.
    for (const [path, g] of treeFlatten(firstGrads)) {
      const norm = sum(mul(g as Tensor, g as Tensor)).item();
      expect(norm, path).toBeGreaterThan(0);
    }
    const before = new Map(treeFlatten(initial));
    for (const [path, w] of treeFlatten(params)) {
      const moved = sum(abs(sub(w as Tensor, before.get(path) as Tensor))).item();
      expect(moved, path).toBeGreaterThan(0);
    }
  });
});
