import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp } from "../registry.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { elementwiseBatch } from "./batching.js";
import { binaryForward } from "./broadcast.js";

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
    batch: elementwiseBatch((a: Tensor, b: Tensor): Tensor => op(a, b)),
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
