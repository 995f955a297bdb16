import { kernels } from "../backends/backend.js";
import { promoteTypes } from "../dtype.js";
import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp } from "../registry.js";
import { broadcastShapes } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { binaryForward, mul } from "./binary.js";
import { unbroadcast } from "./broadcast.js";
import { produce } from "./util.js";

type Comparison = Extract<
  BinaryKind,
  "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual"
>;

/**
 * Registers a broadcasting comparison and returns its public function. The result is int32 0/1,
 * which carries no gradient, so comparisons have no vjp.
 */
function defineComparison(name: Comparison) {
  const op = defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b, "int32"),
  });
  return (a: TensorLike, b: TensorLike): Tensor => op(a, b);
}

/** a = b elementwise as int32 0/1, broadcasting. */
export const equal = defineComparison("equal");
/** a ≠ b elementwise as int32 0/1, broadcasting. */
export const notEqual = defineComparison("notEqual");
/** a < b elementwise as int32 0/1, broadcasting. */
export const less = defineComparison("less");
/** a ≤ b elementwise as int32 0/1, broadcasting. */
export const lessEqual = defineComparison("lessEqual");
/** a > b elementwise as int32 0/1, broadcasting. */
export const greater = defineComparison("greater");
/** a ≥ b elementwise as int32 0/1, broadcasting. */
export const greaterEqual = defineComparison("greaterEqual");

const whereOp = defineOp({
  name: "where",
  inputs: ["condition", "a", "b"],
  forward: ([condition, a, b]) => {
    const shape = broadcastShapes("where", condition.shape, a.shape, b.shape);
    return produce(promoteTypes(a.dtype, b.dtype), shape, (out) =>
      kernels().where(
        condition.buffer,
        condition.shape,
        a.buffer,
        a.shape,
        b.buffer,
        b.shape,
        out,
        shape,
      ),
    );
  },
  vjp: ({ dy, inputs: [condition, a, b], needsGrad }) => {
    const chosen = mul(dy, notEqual(condition, 0));
    return [
      null,
      needsGrad[1] ? unbroadcast(chosen, a.shape) : null,
      needsGrad[2] ? unbroadcast(mul(dy, equal(condition, 0)), b.shape) : null,
    ];
  },
  samples: (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) =>
        kit.fc.tuple(
          kit.tensor(sa, { dtype: "int32", min: 0, max: 1 }),
          kit.tensor(sa),
          kit.tensor(sb),
        ),
      )
      .map(([condition, a, b]) => ({ inputs: [condition, a, b], attrs: {} })),
});

/**
 * condition ≠ 0 ? a : b elementwise, all three broadcast together.
 * Gradient: dy to a where the condition holds, to b elsewhere; none to the condition.
 */
export function where(condition: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  return whereOp(condition, a, b);
}
