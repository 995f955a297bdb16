import { kernels } from "../backends/backend.js";
import { argumentError, show } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { produce } from "./util.js";

interface TransposeAttrs {
  readonly perm?: readonly number[];
}

function resolvePerm(rank: number, perm: readonly number[] | undefined): number[] {
  if (perm === undefined) return Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const seen = new Set(Array.isArray(perm) ? perm : []);
  const valid =
    Array.isArray(perm) &&
    perm.length === rank &&
    seen.size === rank &&
    perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank);
  if (!valid)
    throw argumentError(
      "transpose",
      `perm must be a permutation of 0…${rank - 1}, got ${show(perm)}`,
    );
  return [...perm];
}

/** Whether perm leaves the axes longer than 1 in their order. */
function keepsOrder(shape: readonly number[], perm: readonly number[]): boolean {
  let previous = -1;
  for (const axis of perm) {
    if (shape[axis] === 1) continue;
    if (axis < previous) return false;
    previous = axis;
  }
  return true;
}

function inversePerm(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return inverse;
}

const transposeOp = defineOp({
  name: "transpose",
  inputs: ["x"],
  forward: ([x], { perm }: TransposeAttrs) => {
    const p = resolvePerm(x.ndim, perm);
    const shape = p.map((a) => x.shape[a]!);
    // Moving only axes of size 1 keeps the elements' order: the same buffer, reshaped.
    if (keepsOrder(x.shape, p)) return new Tensor(x.buffer, shape);
    return produce(x.dtype, shape, (out) => kernels().transpose(x.buffer, x.shape, p, out));
  },
  vjp: ({ dy, inputs: [x], attrs: { perm } }) => [
    transpose(dy, inversePerm(resolvePerm(x.ndim, perm))),
  ],
  // One transpose brings the batch axis b to the front and permutes the slice's axes around it.
  batch: ({ inputs: [x], axes: [b], attrs: { perm } }): BatchResult<SingleOutput> => {
    const p = resolvePerm(x.ndim - 1, perm).map((a) => (a < b! ? a : a + 1));
    return { y: transpose(x, [b!, ...p]), axes: [0] };
  },
  samples: (kit) =>
    kit.anyTensor({ maxRank: 4 }).chain((x) =>
      kit.fc
        .shuffledSubarray(
          x.shape.map((_, i) => i),
          { minLength: x.ndim, maxLength: x.ndim },
        )
        .map((perm) => ({ inputs: [x], attrs: { perm } })),
    ),
});

/**
 * Permutes axes: result axis i is x's axis perm[i] (default: reversed).
 * Gradient: dy permuted by the inverse permutation.
 */
export function transpose(x: TensorLike, perm?: readonly number[]): Tensor {
  return transposeOp(x, { perm });
}

/** @internal x with its batch axis `axis` moved to the front (x itself when it is there). */
export function batchFirst(x: Tensor, axis: number): Tensor {
  if (axis === 0) return x;
  const rest = x.shape.map((_, i) => i).filter((i) => i !== axis);
  return transpose(x, [axis, ...rest]);
}
