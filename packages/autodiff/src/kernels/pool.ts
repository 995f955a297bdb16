import type { FloatArray, TypedArray } from "../dtype.js";

/**
 * One spatial axis of a pooling window: `size` input cells, `out` windows; window o covers the
 * cells o·stride − padBefore + i·dilation for i < kernel, of which those outside 0…size−1 are
 * padding. (The same fields as window.ts resolves, so ops pass its geometry straight through.)
 */
export interface PoolAxis {
  readonly size: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly padBefore: number;
  readonly padAfter: number;
  readonly out: number;
}

/** `planes` row-major [h.size, w.size] input planes (N·C of them), each pooled on its own. */
export interface PoolGeometry {
  readonly planes: number;
  readonly h: PoolAxis;
  readonly w: PoolAxis;
}

/** dy as [planes, outH, outW] over dx as [planes, height, width]. */
export interface PoolPlanes {
  readonly planes: number;
  readonly height: number;
  readonly width: number;
  readonly outH: number;
  readonly outW: number;
}

export interface PoolKernels {
  /**
   * y[p, i, j] = the max over window (i, j)'s input cells (padding never wins) and argmax[p, i, j]
   * its flat index into x: the first maximum in row-major window order, or the first NaN. Both
   * arrive with unspecified contents and every element is written.
   */
  maxPool2d(x: TypedArray, g: PoolGeometry, y: TypedArray, argmax: Int32Array): void;
  /**
   * The transpose of maxPool2d's selection: dx = 0, then dx[argmax[i]] += dy[i] for every i, in
   * order (dx arrives with unspecified contents). Returns −1, or the first i whose argmax[i] lies
   * outside dx (stopping there): the range check rides along the scatter instead of taking a
   * pass of its own. `planes` describes dy and dx as stacks of planes, where they are: a backend
   * may then store each dy straight into its window's 2×2 block when every argmax lies in it.
   */
  maxPool2dBackward(
    dy: FloatArray,
    argmax: Int32Array,
    dx: FloatArray,
    planes: PoolPlanes | null,
  ): number;
  /**
   * y[p, i, j] = the sum of window (i, j)'s input cells / its divisor, as PyTorch: with
   * countIncludePad, the window's cells up to the end of the padding, else its input cells only.
   * Dilation must be 1.
   */
  avgPool2d(x: FloatArray, g: PoolGeometry, countIncludePad: boolean, y: FloatArray): void;
  /** The transpose of avgPool2d: dx = 0, then every window's cells += dy[p, i, j] / divisor. */
  avgPool2dBackward(
    dy: FloatArray,
    g: PoolGeometry,
    countIncludePad: boolean,
    dx: FloatArray,
  ): void;
}

/** Per window along one axis: its first input cell, how many input cells it has, its divisor. */
interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  /** Cells up to the end of the padding (PyTorch's countIncludePad size; dilation 1 only). */
  readonly padded: Int32Array;
}

function taps(a: PoolAxis): Taps {
  const first = new Int32Array(a.out);
  const count = new Int32Array(a.out);
  const padded = new Int32Array(a.out);
  for (let o = 0; o < a.out; o++) {
    const start = o * a.stride - a.padBefore;
    // Taps before the input (negative cells) and from the input's end on are padding.
    const skip = start < 0 ? Math.ceil(-start / a.dilation) : 0;
    const end = Math.min(a.kernel, Math.max(0, Math.ceil((a.size - start) / a.dilation)));
    first[o] = start + skip * a.dilation;
    count[o] = Math.max(0, end - skip);
    padded[o] = Math.min(start + a.kernel, a.size + a.padAfter) - start;
  }
  return { first, count, padded };
}

/** 2×2 windows, stride 2, no padding or dilation, every window whole: the common CNN case. */
export function isPlain2x2(g: PoolGeometry): boolean {
  const plain = (a: PoolAxis) =>
    a.kernel === 2 &&
    a.stride === 2 &&
    a.dilation === 1 &&
    a.padBefore === 0 &&
    a.padAfter === 0 &&
    2 * a.out <= a.size;
  return plain(g.h) && plain(g.w);
}

/**
 * The flat index of the first maximum (or first NaN) among `rows`×`cols` cells of x starting at
 * `first`, `rowStep` and `colStep` apart; the first cell when all are −∞.
 */
function windowArgmax(
  x: TypedArray,
  first: number,
  rows: number,
  cols: number,
  rowStep: number,
  colStep: number,
): number {
  let best = -Infinity;
  let index = first;
  for (let r = 0; r < rows; r++) {
    let k = first + r * rowStep;
    for (let c = 0; c < cols; c++, k += colStep) {
      const v = x[k]!;
      // Strict > keeps the first of tied maxima; the first NaN wins and stays.
      if (v > best || (v !== v && best === best)) {
        best = v;
        index = k;
      }
    }
  }
  return index;
}

function maxPool2d(x: TypedArray, g: PoolGeometry, y: TypedArray, argmax: Int32Array): void {
  const { planes, h, w } = g;
  const inPlane = h.size * w.size;
  const outPlane = h.out * w.out;
  const width = w.size;
  if (isPlain2x2(g)) {
    maxPool2x2(x, planes, h.size, width, h.out, w.out, y, argmax);
    return;
  }
  const th = taps(h);
  const tw = taps(w);
  const dh = h.dilation;
  const dw = w.dilation;
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    let o = p * outPlane;
    for (let i = 0; i < h.out; i++) {
      const rowFirst = base + th.first[i]! * width;
      const rows = th.count[i]!;
      for (let j = 0; j < w.out; j++) {
        const colFirst = tw.first[j]!;
        const cols = tw.count[j]!;
        const index = windowArgmax(x, rowFirst + colFirst, rows, cols, dh * width, dw);
        y[o] = x[index]!;
        argmax[o] = index;
        o++;
      }
    }
  }
}

function maxPool2x2(
  x: TypedArray,
  planes: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
  y: TypedArray,
  argmax: Int32Array,
): void {
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let i = 0; i < outH; i++) {
      let k = base + 2 * i * width;
      for (let j = 0; j < outW; j++, k += 2) {
        const a = x[k]!;
        const b = x[k + 1]!;
        const c = x[k + width]!;
        const d = x[k + width + 1]!;
        // A tournament without branches, which random data would mispredict:
        // the better of each row, then of the two rows. Strict > keeps the first of tied maxima.
        const top = Number(b > a);
        const bottom = width + Number(d > c);
        let index = k + top + Number(x[k + bottom]! > x[k + top]!) * (bottom - top);
        // Comparisons ignore NaN, so a window holding one (the sum is NaN) is scanned in order.
        if (Number.isNaN(a + b + c + d)) index = windowArgmax(x, k, 2, 2, width, 1);
        y[o] = x[index]!;
        argmax[o] = index;
        o++;
      }
    }
  }
}

function divisors(g: PoolGeometry, countIncludePad: boolean): Float64Array {
  const th = taps(g.h);
  const tw = taps(g.w);
  const out = new Float64Array(g.h.out * g.w.out);
  let o = 0;
  for (let i = 0; i < g.h.out; i++) {
    for (let j = 0; j < g.w.out; j++) {
      out[o++] = countIncludePad ? th.padded[i]! * tw.padded[j]! : th.count[i]! * tw.count[j]!;
    }
  }
  return out;
}

function avgPool2d(x: FloatArray, g: PoolGeometry, countIncludePad: boolean, y: FloatArray): void {
  const { planes, h, w } = g;
  const width = w.size;
  const inPlane = h.size * width;
  const outPlane = h.out * w.out;
  if (isPlain2x2(g)) {
    let o = 0;
    for (let p = 0; p < planes; p++) {
      const base = p * inPlane;
      for (let i = 0; i < h.out; i++) {
        let k = base + 2 * i * width;
        for (let j = 0; j < w.out; j++, k += 2) {
          y[o++] = (x[k]! + x[k + 1]! + x[k + width]! + x[k + width + 1]!) * 0.25;
        }
      }
    }
    return;
  }
  const th = taps(h);
  const tw = taps(w);
  const divisor = divisors(g, countIncludePad);
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    let o = p * outPlane;
    for (let i = 0; i < h.out; i++) {
      const rowFirst = base + th.first[i]! * width;
      const rows = th.count[i]!;
      for (let j = 0; j < w.out; j++) {
        const cols = tw.count[j]!;
        let total = 0;
        for (let r = 0; r < rows; r++) {
          const k = rowFirst + r * width + tw.first[j]!;
          for (let c = 0; c < cols; c++) total += x[k + c]!;
        }
        y[o] = total / divisor[i * w.out + j]!;
        o++;
      }
    }
  }
}

function avgPool2dBackward(
  dy: FloatArray,
  g: PoolGeometry,
  countIncludePad: boolean,
  dx: FloatArray,
): void {
  const { planes, h, w } = g;
  const width = w.size;
  const inPlane = h.size * width;
  const outPlane = h.out * w.out;
  dx.fill(0);
  if (isPlain2x2(g)) {
    let o = 0;
    for (let p = 0; p < planes; p++) {
      const base = p * inPlane;
      for (let i = 0; i < h.out; i++) {
        let k = base + 2 * i * width;
        for (let j = 0; j < w.out; j++, k += 2) {
          const v = dy[o++]! * 0.25;
          dx[k] = v;
          dx[k + 1] = v;
          dx[k + width] = v;
          dx[k + width + 1] = v;
        }
      }
    }
    return;
  }
  const th = taps(h);
  const tw = taps(w);
  const divisor = divisors(g, countIncludePad);
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    let o = p * outPlane;
    for (let i = 0; i < h.out; i++) {
      const rowFirst = base + th.first[i]! * width;
      const rows = th.count[i]!;
      for (let j = 0; j < w.out; j++) {
        const cols = tw.count[j]!;
        const v = dy[o]! / divisor[i * w.out + j]!;
        for (let r = 0; r < rows; r++) {
          const k = rowFirst + r * width + tw.first[j]!;
          for (let c = 0; c < cols; c++) dx[k + c] = dx[k + c]! + v;
        }
        o++;
      }
    }
  }
}

function maxPool2dBackward(dy: FloatArray, argmax: Int32Array, dx: FloatArray): number {
  dx.fill(0);
  const n = dx.length;
  for (let i = 0; i < argmax.length; i++) {
    const j = argmax[i]!;
    if (j < 0 || j >= n) return i;
    dx[j] = dx[j]! + dy[i]!;
  }
  return -1;
}

export const jsPoolKernels: PoolKernels = {
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};
