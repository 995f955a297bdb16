import { prng, type Tensor } from "@tapegrad/autodiff";
import {
  batchNorm2d,
  conv2d,
  loadInto,
  relu,
  residual,
  sequential,
  type Layer,
} from "@tapegrad/nn";
import { loadCheckpointSync } from "@tapegrad/nn/node";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { lenet } from "../src/models.js";

// Weights trained by PyTorch 1.13 and the outputs PyTorch computes with them, made by
// fixtures/pytorch/make_fixture.py (its docstring says how to regenerate them): tapegrad loads the
// state_dicts with PyTorch's own names and reproduces the outputs.

const fixture = (name: string) =>
  loadCheckpointSync(fileURLToPath(new URL(`fixtures/pytorch/${name}`, import.meta.url)))
    .tree as Record<string, unknown>;
const expected = fixture("expected.safetensors") as Record<string, Tensor>;

/** The largest |a − b| over two tensors of the same shape. */
function maxDifference(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [a.data, b.data];
  let largest = 0;
  for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i]! - y[i]!));
  return largest;
}

describe("PyTorch-trained weights", () => {
  it("LeNet-5: the state_dict loads into lenet()'s params as it is and gives PyTorch's logits", () => {
    const model = lenet();
    const params = loadInto(model.init(prng(0)).params, fixture("lenet.safetensors"));
    const logits = model.apply(params, expected["images"]!);
    expect(maxDifference(logits, expected["lenet_logits"]!)).toBeLessThan(1e-5);
  });

  it("a residual block with batch norm: names mapped, num_batches_tracked left out, eval outputs equal", () => {
    // basicBlock(8, 16, 2) of models.ts; PyTorch names its shortcut short_conv and short_bn.
    const block: Layer = sequential({
      add: residual(
        sequential({
          conv1: conv2d({
            inChannels: 8,
            outChannels: 16,
            kernelSize: 3,
            stride: 2,
            padding: 1,
            bias: false,
          }),
          bn1: batchNorm2d({ numFeatures: 16 }),
          relu: relu(),
          conv2: conv2d({
            inChannels: 16,
            outChannels: 16,
            kernelSize: 3,
            padding: 1,
            bias: false,
          }),
          bn2: batchNorm2d({ numFeatures: 16 }),
        }),
        sequential({
          conv: conv2d({ inChannels: 8, outChannels: 16, kernelSize: 1, stride: 2, bias: false }),
          bn: batchNorm2d({ numFeatures: 16 }),
        }),
      ),
      relu: relu(),
    });
    const path = (name: string) =>
      name.startsWith("short_")
        ? `add.shortcut.${name.replace(/^short_conv/, "conv").replace(/^short_bn/, "bn")}`
        : `add.block.${name}`;
    const loaded = fixture("block.safetensors");
    // PyTorch's batch-norm counters come as I64 tensors, read as int32.
    expect((loaded["bn1"] as Record<string, Tensor>)["num_batches_tracked"]!.dtype).toBe("int32");
    const template = block.init(prng(0));
    const params = loadInto(template.params, loaded, {
      rename: (name) => (/running_|num_batches_tracked/.test(name) ? null : path(name)),
    });
    const state = loadInto(template.state, loaded, {
      rename: (name) => {
        if (!/running_(mean|var)$/.test(name)) return null;
        return path(
          name.replace(/running_mean$/, "runningMean").replace(/running_var$/, "runningVar"),
        );
      },
    });
    const y = block.apply(params, expected["block_input"]!, { state });
    expect(maxDifference(y, expected["block_output"]!)).toBeLessThan(1e-5);
  });

  it("F16 and BF16 tensors load as the float32 values PyTorch converts them to", () => {
    const t = fixture("dtypes.safetensors") as Record<string, Tensor>;
    for (const code of ["f16", "bf16"]) {
      expect(t[code]!.dtype).toBe("float32");
      const want = Array.from(t[`${code}_as_f32`]!.data);
      expect(Array.from(t[code]!.data).every((v, i) => Object.is(v, want[i]))).toBe(true);
    }
  });
});
