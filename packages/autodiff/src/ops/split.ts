import { MAX_TENSOR_SIZE } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";
import { normalizeAxis } from "../shape.js";
import { Tensor, tensor, type TensorLike } from "../tensor.js";
import { slice } from "./slice.js";
import { optionsArgument } from "./util.js";

// split and chunk are slices side by side: each piece's gradient is slice's, dy padded back into
// its place with zeros, and the tape sums the pieces' gradients into x's.

/** The axis split and chunk cut along. */
export interface SplitOptions {
  /** The axis to cut (default 0; negative counts from the end). */
  readonly axis?: number;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** x as a tensor of rank ≥ 1 and the axis to cut, resolved, naming `op` on failure. */
function cutAxis(op: string, x: TensorLike, options: SplitOptions | undefined) {
  if (!(x instanceof Tensor) && typeof x !== "number") {
    throw argumentError(op, `x must be a Tensor, got ${show(x)}`);
  }
  const { axis = 0 } = optionsArgument(op, options);
  const t = typeof x === "number" ? tensor(x) : x;
  if (t.ndim === 0) throw shapeError(op, "x must have at least one axis, got a scalar (shape [])");
  if (typeof axis !== "number")
    throw argumentError(op, `axis must be an integer, got ${show(axis)}`);
  return { t, axis: normalizeAxis(op, axis, t.ndim) };
}

/** Consecutive slices of x along `axis`, of the given lengths (which sum to its length). */
function pieces(x: Tensor, axis: number, lengths: readonly number[]): Tensor[] {
  let start = 0;
  return lengths.map((length) => {
    const begin = x.shape.map(() => 0);
    const end = [...x.shape];
    begin[axis] = start;
    end[axis] = start + length;
    start += length;
    return slice(x, begin, end);
  });
}

/**
 * x cut along `axis` (default 0), as torch.split: into pieces of `sizes` elements (the last one
 * shorter if they do not divide the axis; 0 only for an axis of length 0, which gives one empty
 * piece), or into pieces of the listed lengths, which must sum to the axis length. Gradient:
 * each piece's dy in its place, zeros elsewhere.
 */
export function split(
  x: TensorLike,
  sizes: number | readonly number[],
  options?: SplitOptions,
): Tensor[] {
  const { t, axis } = cutAxis("split", x, options);
  const n = t.shape[axis]!;
  if (Array.isArray(sizes)) {
    sizes.forEach((size, i) => {
      if (!isCount(size)) {
        throw argumentError(
          "split",
          `sizes[${i}] must be a non-negative integer, got ${show(size)}`,
        );
      }
    });
    const total = sizes.reduce((a: number, b: number) => a + b, 0);
    if (total !== n) {
      throw shapeError(
        "split",
        `sizes ${show(sizes)} sum to ${total}, but axis ${axis} of x (shape ` +
          `${showShape(t.shape)}) has length ${n}`,
      );
    }
    return pieces(t, axis, sizes);
  }
  if (!isCount(sizes)) {
    throw argumentError(
      "split",
      `sizes must be a non-negative integer or a list of them, got ${show(sizes)}`,
    );
  }
  if (sizes === 0 && n > 0) {
    throw argumentError(
      "split",
      `a split size of 0 needs an axis of length 0, but axis ${axis} of x (shape ` +
        `${showShape(t.shape)}) has length ${n}`,
    );
  }
  if (n === 0) return pieces(t, axis, [0]);
  const count = Math.ceil(n / sizes);
  return pieces(
    t,
    axis,
    Array.from({ length: count }, (_, i) => Math.min(sizes, n - i * sizes)),
  );
}

/**
 * x cut along `axis` (default 0) into `chunks` pieces of ⌈n/chunks⌉ elements, as torch.chunk:
 * fewer when the axis runs out first (7 in 4 gives 2, 2, 2, 1; 5 in 4 gives 2, 2, 1), and
 * `chunks` empty pieces for an axis of length 0. Gradient: each piece's dy in its place.
 */
export function chunk(x: TensorLike, chunks: number, options?: SplitOptions): Tensor[] {
  const { t, axis } = cutAxis("chunk", x, options);
  // The bound keeps the list of pieces countable, like the elements of a tensor.
  if (!isCount(chunks) || chunks === 0 || chunks > MAX_TENSOR_SIZE) {
    throw argumentError(
      "chunk",
      `chunks must be a positive integer (at most 2^31 − 1), got ${show(chunks)}`,
    );
  }
  const n = t.shape[axis]!;
  if (n === 0) return pieces(t, axis, new Array<number>(chunks).fill(0));
  return split(t, Math.ceil(n / chunks), { axis });
}
