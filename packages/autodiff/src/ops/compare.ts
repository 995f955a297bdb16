import { binaryScalar, type BinaryKind } from "../kernels/elementwise.js";
import { defineOp, type OpSample } from "../registry.js";
import type { SampleArbitrary } from "../sampleTypes.js";
import type { SampleKit } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { elementwiseBatch } from "./batching.js";
import { binaryForward } from "./broadcast.js";

type Comparison = Extract<
  BinaryKind,
  "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual"
>;

/** Broadcasting pairs of tensors, and a tensor compared with itself: every element a tie. */
function comparisonSamples(kit: SampleKit): SampleArbitrary<OpSample<Record<string, never>>> {
  const { fc } = kit;
  const pairs = kit
    .broadcastPair()
    .chain(([sa, sb]) => fc.tuple(kit.tensor(sa), kit.tensor(sb)))
    .map(([a, b]) => ({ inputs: [a, b], attrs: {} }));
  const ties = kit
    .shape()
    .chain((shape) => kit.tensor(shape))
    .map((x) => ({ inputs: [x, x], attrs: {} }));
  return fc.oneof(pairs, ties);
}

/**
 * Registers a broadcasting comparison and returns its public function. The result is int32 0/1,
 * which carries no gradient, so comparisons have no vjp.
 */
function defineComparison(name: Comparison) {
  const op = defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b, "int32"),
    elementwise: () => binaryScalar(name),
    batch: elementwiseBatch((a: Tensor, b: Tensor): Tensor => op(a, b)),
    samples: comparisonSamples,
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
