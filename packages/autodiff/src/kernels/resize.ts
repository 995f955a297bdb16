import type { FloatArray, TypedArray } from "../dtype.js";

// Resizing NCHW planes, separably: output row i reads input rows index0[i] and index1[i] with
// weights weight0[i] and weight1[i], output column j likewise, so that
//   y[p, i, j] = Σ_{a, b ∈ {0, 1}} weightA_h[i] · weightB_w[j] · x[p, indexA_h[i], indexB_w[j]]
// with p a plane (one of N·C), i, j output and r, c input coordinates. Nearest reads index0 only.
// The coordinate rules are PyTorch's (aten/src/ATen/native/UpSample.h).

/** Where each output cell of one axis reads: `size` input cells, `out` output cells. */
export interface ResizeTaps {
  readonly size: number;
  readonly out: number;
  readonly index0: Int32Array;
  readonly index1: Int32Array;
  readonly weight0: Float64Array;
  readonly weight1: Float64Array;
}

/** `planes` row-major [h.size, w.size] input planes, each resized on its own. */
export interface ResizeGeometry {
  readonly planes: number;
  /** Nearest copies x[p, index0_h[i], index0_w[j]]; bilinear blends the four taps. */
  readonly nearest: boolean;
  readonly h: ResizeTaps;
  readonly w: ResizeTaps;
}

/**
 * PyTorch's legacy 'nearest': r = min(floor(i · step), size − 1) with step = 1/scale when a scale
 * factor is given, else size/out; out = size and out = 2·size are the identity and i >> 1.
 */
export function nearestTaps(size: number, out: number, scale: number | undefined): ResizeTaps {
  const index = new Int32Array(out);
  if (out === size) {
    for (let i = 0; i < out; i++) index[i] = i;
  } else if (out === 2 * size) {
    for (let i = 0; i < out; i++) index[i] = i >> 1;
  } else {
    // In float32, as PyTorch computes it whatever the dtype: in double, floor(i · step) lands on
    // the other side of an integer for some sizes, and a different cell is copied.
    const step = Math.fround(scale === undefined ? size / out : 1 / scale);
    for (let i = 0; i < out; i++) {
      index[i] = Math.min(Math.floor(Math.fround(Math.fround(i) * step)), size - 1);
    }
  }
  const weight0 = new Float64Array(out).fill(1);
  return { size, out, index0: index, index1: index, weight0, weight1: new Float64Array(out) };
}

/**
 * Linear interpolation taps. alignCorners: source i · (size − 1)/(out − 1), corners on corners.
 * Else half-pixel centres, (i + 0.5) · step − 0.5 clamped at 0, step = 1/scale when a scale factor
 * is given, else size/out. The upper tap stays at size − 1 past the last cell.
 */
export function linearTaps(
  size: number,
  out: number,
  alignCorners: boolean,
  scale: number | undefined,
): ResizeTaps {
  let step: number;
  if (alignCorners) step = out > 1 ? (size - 1) / (out - 1) : 0;
  else step = scale === undefined ? size / out : 1 / scale;
  const index0 = new Int32Array(out);
  const index1 = new Int32Array(out);
  const weight0 = new Float64Array(out);
  const weight1 = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    const source = alignCorners ? step * i : Math.max(step * (i + 0.5) - 0.5, 0);
    const r = Math.min(Math.floor(source), size - 1);
    const lambda = Math.min(Math.max(source - r, 0), 1);
    index0[i] = r;
    index1[i] = r < size - 1 ? r + 1 : r;
    weight0[i] = 1 - lambda;
    weight1[i] = lambda;
  }
  return { size, out, index0, index1, weight0, weight1 };
}

/** y [planes, h.out, w.out] from x [planes, h.size, w.size]; every element of y is written. */
export function resize2d(x: TypedArray, g: ResizeGeometry, y: TypedArray): void {
  const { h, w } = g;
  const inPlane = h.size * w.size;
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = p * inPlane;
    for (let i = 0; i < h.out; i++) {
      const row0 = base + h.index0[i]! * w.size;
      if (g.nearest) {
        for (let j = 0; j < w.out; j++) y[o++] = x[row0 + w.index0[j]!]!;
        continue;
      }
      const row1 = base + h.index1[i]! * w.size;
      const a0 = h.weight0[i]!;
      const a1 = h.weight1[i]!;
      for (let j = 0; j < w.out; j++) {
        const c0 = w.index0[j]!;
        const c1 = w.index1[j]!;
        const b0 = w.weight0[j]!;
        const b1 = w.weight1[j]!;
        y[o++] =
          a0 * (b0 * x[row0 + c0]! + b1 * x[row0 + c1]!) +
          a1 * (b0 * x[row1 + c0]! + b1 * x[row1 + c1]!);
      }
    }
  }
}

/**
 * The transpose of resize2d: dx (zero on entry) [planes, h.size, w.size] gets every dy[p, i, j]
 * times the weight of each cell that y[p, i, j] read, summed in row-major order of dy.
 */
export function resize2dBackward(dy: FloatArray, g: ResizeGeometry, dx: FloatArray): void {
  const { h, w } = g;
  const inPlane = h.size * w.size;
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = p * inPlane;
    for (let i = 0; i < h.out; i++) {
      const row0 = base + h.index0[i]! * w.size;
      if (g.nearest) {
        for (let j = 0; j < w.out; j++) dx[row0 + w.index0[j]!] += dy[o++]!;
        continue;
      }
      const row1 = base + h.index1[i]! * w.size;
      const a0 = h.weight0[i]!;
      const a1 = h.weight1[i]!;
      for (let j = 0; j < w.out; j++) {
        const c0 = w.index0[j]!;
        const c1 = w.index1[j]!;
        const b0 = w.weight0[j]!;
        const b1 = w.weight1[j]!;
        const d = dy[o++]!;
        dx[row0 + c0] += a0 * b0 * d;
        dx[row0 + c1] += a0 * b1 * d;
        dx[row1 + c0] += a1 * b0 * d;
        dx[row1 + c1] += a1 * b1 * d;
      }
    }
  }
}
