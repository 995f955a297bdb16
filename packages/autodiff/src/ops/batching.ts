import type { BatchResult, SingleOutput } from "../registry.js";
import type { Tensor } from "../tensor.js";
import { broadcastTo } from "./broadcast.js";
import { reshape } from "./reshape.js";
import { batchFirst, transpose } from "./transpose.js";

// Helpers for batching rules (vmap), beside transpose.ts's batchFirst: lining up the slices'
// axes of the inputs of a broadcasting op.

/**
 * @internal The inputs of a broadcasting elementwise op, ready for one call over the whole batch:
 * each mapped input with its batch axis in front and 1s after it up to the largest slice rank
 * among the inputs, so that broadcasting lines up the slices' axes (the batch axis broadcasts
 * against nothing in the unmapped inputs, whose rank is at most the slices'). The result's batch
 * axis is 0.
 */
export function broadcastBatched(
  inputs: readonly Tensor[],
  axes: readonly (number | null)[],
): Tensor[] {
  const rank = Math.max(...inputs.map((x, i) => x.ndim - (axes[i] === null ? 0 : 1)));
  return inputs.map((x, i) => {
    const axis = axes[i];
    if (axis === null || axis === undefined) return x;
    const front = batchFirst(x, axis);
    const missing = rank - (front.ndim - 1);
    if (missing === 0) return front;
    const ones = new Array<number>(missing).fill(1);
    return reshape(front, [front.shape[0]!, ...ones, ...front.shape.slice(1)]);
  });
}

/**
 * @internal The batching rule of an elementwise op: a one-input op maps its input as it lies (the
 * batch axis stays where it is); a broadcasting op of several runs once on the inputs lined up
 * by broadcastBatched, batch axis 0.
 */
export function elementwiseBatch(apply: (...xs: Tensor[]) => Tensor) {
  return ({ inputs, axes }: ElementwiseContext): BatchResult<SingleOutput> => {
    if (inputs.length === 1) return { y: apply(inputs[0]!), axes };
    return { y: apply(...broadcastBatched(inputs, axes)), axes: [0] };
  };
}

interface ElementwiseContext {
  readonly inputs: readonly Tensor[];
  readonly axes: readonly (number | null)[];
}

/**
 * @internal x with its batch axis `axis` moved to `to`, for rules that need every input mapped;
 * an unmapped x (axis null) is broadcast along a new axis `to` of length `size`.
 */
export function batchAt(x: Tensor, axis: number | null, to: number, size: number): Tensor {
  if (axis === null) {
    const shape = [...x.shape];
    shape.splice(to, 0, 1);
    const batched = shape.map((d, i) => (i === to ? size : d));
    return broadcastTo(reshape(x, shape), batched);
  }
  if (axis === to) return x;
  const perm = x.shape.map((_, i) => i).filter((i) => i !== axis);
  perm.splice(to, 0, axis);
  return transpose(x, perm);
}

/**
 * @internal x's batch folded into the slices' axis `into`: [B, …, C, …] → […, B·C, …], slice b
 * taking the b-th block of C, for ops that keep that axis's entries apart (channels under groups,
 * per-channel statistics). An unmapped x (axis null) is broadcast over the batch first.
 */
export function foldBatch(x: Tensor, axis: number | null, size: number, into: number): Tensor {
  const moved = batchAt(x, axis, into, size);
  const shape = moved.shape.filter((_, i) => i !== into);
  shape[into] = shape[into]! * size;
  return reshape(moved, shape);
}

/** @internal foldBatch undone on a result: its axis `at` of B·C split into [B, C]. */
export function unfoldBatch(y: Tensor, size: number, at: number): Tensor {
  const shape = [...y.shape];
  shape.splice(at, 1, size, y.shape[at]! / size);
  return reshape(y, shape);
}

/**
 * @internal The rule of an op on the planes of x (its last two axes; pooling): the batch folded
 * with the other leading axes into one, as the planes of a [P, H, W] input, and unfolded after.
 * The batch axis stays where it is, unless it is a plane axis: then it goes to the front.
 */
export function planesBatch(
  x: Tensor,
  axis: number,
  apply: (planes: Tensor) => Tensor,
): BatchResult<SingleOutput> {
  const at = axis < x.ndim - 2 ? axis : 0;
  const moved = at === axis ? x : batchFirst(x, axis);
  const lead = moved.shape.slice(0, -2);
  const y = apply(reshape(moved, [lead.reduce((p, d) => p * d, 1), ...moved.shape.slice(-2)]));
  return { y: reshape(y, [...lead, ...y.shape.slice(-2)]), axes: [at] };
}
