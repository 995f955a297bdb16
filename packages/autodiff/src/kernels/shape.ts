import type { TypedArray } from "../dtype.js";
import { stridesOf } from "../shape.js";
import { forEachRow } from "./strided.js";

export interface ShapeKernels {
  /** Copies x broadcast (NumPy rules) from `shape` to `outShape`. */
  broadcastTo(
    x: TypedArray,
    shape: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
  ): void;
  /** out = x with axes permuted: out axis i is x axis perm[i]. */
  transpose(
    x: TypedArray,
    shape: readonly number[],
    perm: readonly number[],
    out: TypedArray,
  ): void;
  /**
   * Joins `inputs` (of `shapes`, equal but on `axis`) along `axis` into `out`, converting
   * element types as needed: out row o along the leading axes is inputs' rows o, in order.
   */
  concat(
    inputs: readonly TypedArray[],
    shapes: readonly (readonly number[])[],
    axis: number,
    out: TypedArray,
  ): void;
  /** out (of `outShape`) = the box of x (of `shape`) starting at `begin`, of outShape's sizes. */
  slice(
    x: TypedArray,
    shape: readonly number[],
    begin: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
  ): void;
  /** out (of `outShape`) = `value` everywhere but the box at `before`, which holds x. */
  pad(
    x: TypedArray,
    shape: readonly number[],
    before: readonly number[],
    value: number,
    out: TypedArray,
    outShape: readonly number[],
  ): void;
  /**
   * With x viewed as [outer, n, inner] and out as [outer, m, inner] (m = indices.length):
   * out[o, j, :] = x[o, indices[j], :]. Indices lie in −n…n−1; negative ones count from the end.
   */
  gather(
    x: TypedArray,
    outer: number,
    n: number,
    inner: number,
    indices: Int32Array,
    out: TypedArray,
  ): void;
  /**
   * The transpose of `gather`: with out viewed as [outer, n, inner] and updates as
   * [outer, m, inner], out[o, indices[j], :] += updates[o, j, :]. Repeated indices accumulate.
   * out arrives zero-filled (the op allocates it fresh), so a backend may skip reading it.
   */
  scatterAdd(
    updates: TypedArray,
    outer: number,
    n: number,
    inner: number,
    indices: Int32Array,
    out: TypedArray,
  ): void;
  /** out viewed as [labels.length, numClasses] gets 1 at [i, labels[i]]; labels are in range. */
  oneHot(labels: Int32Array, numClasses: number, out: TypedArray): void;
}

function broadcastTo(
  x: TypedArray,
  shape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  forEachRow([shape], outShape, (offsets, o, n, steps) => {
    let ix = offsets[0]!;
    const step = steps[0]!;
    if (step === 1) {
      out.set(x.subarray(ix, ix + n), o);
      return;
    }
    for (let i = 0; i < n; i++, ix += step) out[o + i] = x[ix]!;
  });
}

function transpose(
  x: TypedArray,
  shape: readonly number[],
  perm: readonly number[],
  out: TypedArray,
): void {
  const rank = shape.length;
  const xStrides = stridesOf(shape);
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

function concat(
  inputs: readonly TypedArray[],
  shapes: readonly (readonly number[])[],
  axis: number,
  out: TypedArray,
): void {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shapes[0]![i]!;
  // Each input contributes one contiguous chunk (its axis and everything after) per outer row.
  const chunks = shapes.map((shape) => shape.slice(axis).reduce((a, b) => a * b, 1));
  let o = 0;
  for (let row = 0; row < outer; row++) {
    for (let k = 0; k < inputs.length; k++) {
      const chunk = chunks[k]!;
      out.set(inputs[k]!.subarray(row * chunk, (row + 1) * chunk), o);
      o += chunk;
    }
  }
}

/** Copies a box of sizes `size` from src at `srcBegin` to dst at `dstBegin`, row by row. */
function copyBox(
  src: TypedArray,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dst: TypedArray,
  dstShape: readonly number[],
  dstBegin: readonly number[],
  size: readonly number[],
): void {
  const rank = size.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  let count = 1;
  for (const d of size) count *= d;
  if (count === 0) return;
  const srcStrides = stridesOf(srcShape);
  const dstStrides = stridesOf(dstShape);
  let s = 0;
  let d = 0;
  for (let i = 0; i < rank; i++) {
    s += srcBegin[i]! * srcStrides[i]!;
    d += dstBegin[i]! * dstStrides[i]!;
  }
  const n = size[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  for (let row = 0, rows = count / n; row < rows; row++) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]!++;
      s += srcStrides[axis]!;
      d += dstStrides[axis]!;
      if (index[axis]! < size[axis]!) break;
      s -= srcStrides[axis]! * size[axis]!;
      d -= dstStrides[axis]! * size[axis]!;
      index[axis] = 0;
    }
  }
}

function slice(
  x: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  copyBox(
    x,
    shape,
    begin,
    out,
    outShape,
    outShape.map(() => 0),
    outShape,
  );
}

function pad(
  x: TypedArray,
  shape: readonly number[],
  before: readonly number[],
  value: number,
  out: TypedArray,
  outShape: readonly number[],
): void {
  out.fill(value);
  copyBox(
    x,
    shape,
    shape.map(() => 0),
    out,
    outShape,
    before,
    shape,
  );
}

function gather(
  x: TypedArray,
  outer: number,
  n: number,
  inner: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const m = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const index = indices[j]!;
      const from = (o * n + (index < 0 ? index + n : index)) * inner;
      out.set(x.subarray(from, from + inner), (o * m + j) * inner);
    }
  }
}

function scatterAdd(
  updates: TypedArray,
  outer: number,
  n: number,
  inner: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const m = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const index = indices[j]!;
      const to = (o * n + (index < 0 ? index + n : index)) * inner;
      const from = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] = out[to + i]! + updates[from + i]!;
    }
  }
}

function oneHot(labels: Int32Array, numClasses: number, out: TypedArray): void {
  out.fill(0);
  for (let i = 0; i < labels.length; i++) out[i * numClasses + labels[i]!] = 1;
}

export const jsShapeKernels: ShapeKernels = {
  broadcastTo,
  transpose,
  concat,
  slice,
  pad,
  gather,
  scatterAdd,
  oneHot,
};
