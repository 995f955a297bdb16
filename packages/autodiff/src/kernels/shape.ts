import type { TypedArray } from "../dtype.js";
import { forEachRow } from "./strided.js";

export interface ShapeKernels {
  /** Copies x broadcast (NumPy rules) from `shape` to `outShape`. */
  broadcastTo(x: TypedArray, shape: readonly number[], out: TypedArray, outShape: readonly number[]): void;
  /** out = x with axes permuted: out axis i is x axis perm[i]. */
  transpose(x: TypedArray, shape: readonly number[], perm: readonly number[], out: TypedArray): void;
}

function broadcastTo(x: TypedArray, shape: readonly number[], out: TypedArray, outShape: readonly number[]): void {
  forEachRow([shape], outShape, (offsets, o, n, steps) => {
    let ix = offsets[0]!;
    const step = steps[0]!;
    for (let i = 0; i < n; i++, ix += step) out[o + i] = x[ix]!;
  });
}

function transpose(x: TypedArray, shape: readonly number[], perm: readonly number[], out: TypedArray): void {
  const rank = shape.length;
  const xStrides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    xStrides[i] = stride;
    stride *= shape[i]!;
  }
  // Walk the output in order; its axis i steps through x with x's stride along perm[i].
  const outShape = perm.map((p) => shape[p]!);
  const permutedStrides = perm.map((p) => xStrides[p]!);
  if (rank === 0) {
    out[0] = x[0]!;
    return;
  }
  const n = outShape[rank - 1]!;
  const step = permutedStrides[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let ix = 0;
  for (let o = 0; o < out.length; o += n) {
    let j = ix;
    for (let i = 0; i < n; i++, j += step) out[o + i] = x[j]!;
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]!++;
      ix += permutedStrides[axis]!;
      if (index[axis]! < outShape[axis]!) break;
      ix -= permutedStrides[axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
}

export const jsShapeKernels: ShapeKernels = { broadcastTo, transpose };
