import { defineOp, mul, tensor, type Tensor, type TensorLike } from "../../src/index.js";

// A user-defined op: x³ with its own forward loop and vjp, registered exactly as built-ins are.
const cubeOp = defineOp({
  name: "cube",
  inputs: ["x"],
  forward: ([x]) => {
    const values = x.data;
    const out = x.dtype === "float64" ? new Float64Array(x.size) : new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) out[i] = values[i]! ** 3;
    return tensor(out, { shape: x.shape });
  },
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(3, mul(x, x)))],
  samples: (kit) => kit.anyTensor().map((x) => ({ inputs: [x], attrs: {} })),
});

export function cube(x: TensorLike): Tensor {
  return cubeOp(x);
}
