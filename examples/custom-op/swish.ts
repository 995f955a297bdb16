import { add, defineOp, mul, sigmoid, sub, tensor, type Tensor } from "@tapegrad/autodiff";

/** σ(x) = 1/(1 + e^−x) without overflow: e^−x is only taken for x ≥ 0. */
function stableSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Swish (SiLU), y = x·σ(x), elementwise. Gradient: dy·(σ(x) + y·(1 − σ(x))), since
 * d/dx x·σ(x) = σ(x) + x·σ(x)·(1 − σ(x)). Registered under the name "swish".
 */
export const swish = defineOp({
  name: "swish",
  inputs: ["x"],
  // The forward pass sees plain tensors and may compute any way it likes: here a loop over the
  // typed array, in the input's float type (int32 inputs compute in float32).
  forward: ([x]) => {
    const out = x.dtype === "float64" ? new Float64Array(x.size) : new Float32Array(x.size);
    const data = x.data;
    for (let i = 0; i < x.size; i++) out[i] = data[i]! * stableSigmoid(data[i]!);
    return tensor(out, { shape: x.shape });
  },
  // The vjp is written with ops, so it is itself differentiable: gradients of gradients of
  // swish come for free. It reuses the output y instead of recomputing x·σ(x).
  vjp: ({ dy, y, inputs: [x] }) => {
    const s = sigmoid(x);
    return [mul(dy, add(s, mul(y, sub(1, s))))];
  },
  // Inputs for the registry-wide gradient check: any shape up to rank 3, values in [−4, 4]
  // (swish is smooth everywhere, so no kinks to keep away from).
  samples: (kit) =>
    kit.anyTensor({}, { min: -4, max: 4 }).map((x: Tensor) => ({ inputs: [x], attrs: {} })),
});
