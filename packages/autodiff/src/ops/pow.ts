import type { Tensor } from "../tensor.js";
import { defineBinary, mul, pairSamples, sub, where } from "./binary.js";
import { greater } from "./compare.js";
import { log } from "./unary.js";

// pow is a binary op, but its gradient needs log: it lives above unary.ts, which builds on the
// other binary ops.

/** a^b elementwise. Gradient: dy·b·a^(b−1), dy·a^b·log a (0 where a ≤ 0, as JAX does). */
export const pow = defineBinary(
  "pow",
  ({ dy, inputs: [a, b], y, needsGrad }) => [
    needsGrad[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null,
    needsGrad[1] ? mul(dy, mul(y, logOfPositive(a))) : null,
  ],
  // Positive bases keep a^b real; exponents in a small range keep it well conditioned.
  pairSamples({ min: 0.2, max: 2 }, { min: -2, max: 2 }),
);

/** log a where a > 0, else 0: the log is taken of positive bases only, never giving NaN. */
function logOfPositive(a: Tensor): Tensor {
  const positive = greater(a, 0);
  return where(positive, log(where(positive, a, 1)), 0);
}
