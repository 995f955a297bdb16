import { kernels } from "../backends/backend.js";
import { promoteTypes } from "../dtype.js";
import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp } from "../registry.js";
import { broadcastShapes } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { binaryForward } from "./binary.js";
import { unbroadcast } from "./broadcast.js";
import { produce } from "./util.js";
import { mul } from "./binary.js";

type Comparison = Extract<
  BinaryKind,
  "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual"
>;

// Comparisons have no vjp: their int32 0/1 result carries no gradient.
function defineComparison(name: Comparison) {
  return defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b, "int32"),
  });
}

const equalOp = defineComparison("equal");
const notEqualOp = defineComparison("notEqual");
const lessOp = defineComparison("less");
const lessEqualOp = defineComparison("lessEqual");
const greaterOp = defineComparison("greater");
const greaterEqualOp = defineComparison("greaterEqual");

/** a = b elementwise as int32 0/1, broadcasting. */
export function equal(a: TensorLike, b: TensorLike): Tensor {
  return equalOp(a, b);
}

/** a ≠ b elementwise as int32 0/1, broadcasting. */
export function notEqual(a: TensorLike, b: TensorLike): Tensor {
  return notEqualOp(a, b);
}

/** a < b elementwise as int32 0/1, broadcasting. */
export function less(a: TensorLike, b: TensorLike): Tensor {
  return lessOp(a, b);
}

/** a ≤ b elementwise as int32 0/1, broadcasting. */
export function lessEqual(a: TensorLike, b: TensorLike): Tensor {
  return lessEqualOp(a, b);
}

/** a > b elementwise as int32 0/1, broadcasting. */
export function greater(a: TensorLike, b: TensorLike): Tensor {
  return greaterOp(a, b);
}

/** a ≥ b elementwise as int32 0/1, broadcasting. */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor {
  return greaterEqualOp(a, b);
}

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
