import type { TypedArray } from "../dtype.js";
import { jsElementwiseKernels } from "./elementwise.js";
import { jsReduceKernels } from "./reduce.js";

export interface SoftmaxKernels {
  /**
   * log Σ exp(x) over `axes` into `out` (laid out as `shape` with those axes set to 1), shifted
   * by the max so nothing overflows. An empty or all −∞ set gives −∞; a +∞ gives +∞; NaN spreads.
   */
  logSumExp(
    x: TypedArray,
    shape: readonly number[],
    axes: readonly number[],
    out: TypedArray,
  ): void;
  /** exp(x − max) / Σ exp(x − max) along `axis`; `out` has x's shape. NaN spreads along it. */
  softmax(x: TypedArray, shape: readonly number[], axis: number, out: TypedArray): void;
  /** x − max − log Σ exp(x − max) along `axis`; `out` has x's shape. */
  logSoftmax(x: TypedArray, shape: readonly number[], axis: number, out: TypedArray): void;
}

/**
 * The shift for one row: its max, or 0 where the max is not finite. Shifting by ±∞ would turn
 * −∞ − (−∞) into NaN; with 0 an all −∞ row sums to 0 and +∞ stays +∞, both the right limits.
 */
function shiftOf(max: number): number {
  return Number.isFinite(max) ? max : 0;
}

function logSumExp(
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  // Intermediates stay in float64 whatever the output type, so float32 loses nothing extra.
  const shift = new Float64Array(out.length);
  jsReduceKernels.reduce("max", x, shape, axes, shift);
  for (let i = 0; i < shift.length; i++) shift[i] = shiftOf(shift[i]!);
  const terms = new Float64Array(x.length);
  jsElementwiseKernels.binary("sub", x, shape, shift, kept, terms, shape);
  jsElementwiseKernels.unary("exp", terms, terms, 0);
  const total = new Float64Array(out.length);
  jsReduceKernels.reduce("sum", terms, shape, axes, total);
  for (let i = 0; i < out.length; i++) out[i] = shift[i]! + Math.log(total[i]!);
}

/** Calls `visit(base, n, stride)` for every 1-d slice of x along `axis`. */
function forEachSlice(
  shape: readonly number[],
  axis: number,
  visit: (base: number, n: number, stride: number) => void,
): void {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const n = shape[axis]!;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) visit(o * n * inner + j, n, inner);
  }
}

/** The stable shift of one slice and Σ exp(x − shift) over it. */
function sliceStats(x: TypedArray, base: number, n: number, stride: number): [number, number] {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, x[base + k * stride]!);
  const shift = shiftOf(max);
  let total = 0;
  for (let k = 0; k < n; k++) total += Math.exp(x[base + k * stride]! - shift);
  return [shift, total];
}

function softmax(x: TypedArray, shape: readonly number[], axis: number, out: TypedArray): void {
  forEachSlice(shape, axis, (base, n, stride) => {
    const [shift, total] = sliceStats(x, base, n, stride);
    for (let k = 0, i = base; k < n; k++, i += stride) out[i] = Math.exp(x[i]! - shift) / total;
  });
}

function logSoftmax(x: TypedArray, shape: readonly number[], axis: number, out: TypedArray): void {
  forEachSlice(shape, axis, (base, n, stride) => {
    const [shift, total] = sliceStats(x, base, n, stride);
    const logTotal = Math.log(total);
    for (let k = 0, i = base; k < n; k++, i += stride) out[i] = x[i]! - shift - logTotal;
  });
}

export const jsSoftmaxKernels: SoftmaxKernels = { logSumExp, softmax, logSoftmax };
