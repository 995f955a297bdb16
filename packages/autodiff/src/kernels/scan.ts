import type { TypedArray } from "../dtype.js";

/**
 * Inclusive prefix sums of x (row-major, of `shape`) along `axis` into out, from the last
 * position backwards when `reverse`. x is walked as [outer, n, inner] blocks, n = shape[axis]
 * (1 for a scalar), each position's row of `inner` contiguous elements added to running sums kept
 * in float64 — int32 sums wrap to int32 only as they are stored. Writes every element of out.
 */
export function cumsum(
  x: TypedArray,
  shape: readonly number[],
  axis: number,
  reverse: boolean,
  out: TypedArray,
): void {
  const n = shape.length === 0 ? 1 : shape[axis]!;
  let inner = 1;
  for (let a = axis + 1; a < shape.length; a++) inner *= shape[a]!;
  const block = n * inner;
  if (block === 0) return;
  const sums = new Float64Array(inner);
  const step = reverse ? -inner : inner;
  for (let start = 0; start < x.length; start += block) {
    sums.fill(0);
    let at = reverse ? start + block - inner : start;
    for (let k = 0; k < n; k++, at += step) {
      for (let j = 0; j < inner; j++) {
        const s = sums[j]! + x[at + j]!;
        sums[j] = s;
        out[at + j] = s;
      }
    }
  }
}
