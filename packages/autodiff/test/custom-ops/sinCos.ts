import { cos, defineOp, mul, sin, sub, type Tensor, type TensorLike } from "../../src/index.js";

// A user-defined op with two outputs, sin x and cos x, registered as built-ins are. Its vjp gets
// one cotangent per output (zeros for an output nobody used): dx = dsin·cos x − dcos·sin x.
const sinCosOp = defineOp({
  name: "sinCos",
  inputs: ["x"],
  outputs: ["sin", "cos"],
  forward: ([x]) => [sin(x), cos(x)],
  vjp: ({ dy: [dsin, dcos], y: [sinX, cosX] }) => [sub(mul(dsin, cosX), mul(dcos, sinX))],
  samples: (kit) => kit.anyTensor().map((x) => ({ inputs: [x], attrs: {} })),
});

/** sin x and cos x of one call, as a tuple. */
export function sinCos(x: TensorLike): readonly [sin: Tensor, cos: Tensor] {
  return sinCosOp(x);
}
