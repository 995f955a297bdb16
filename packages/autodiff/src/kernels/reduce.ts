import type { TypedArray } from "../dtype.js";
import { forEachRow } from "./strided.js";

export type ReduceKind = "sum" | "max" | "min";

export interface ReduceKernels {
  /**
   * Reduces x (of `shape`) over `axes` into `out`, whose layout is `shape` with those axes set
   * to 1. max/min propagate NaN.
   */
  reduce(
    kind: ReduceKind,
    x: TypedArray,
    shape: readonly number[],
    axes: readonly number[],
    out: TypedArray,
  ): void;
  /**
   * Index of the first maximum (or minimum) along `axis`; `out` has `shape` with that axis
   * removed.
   */
  argReduce(
    kind: "argmax" | "argmin",
    x: TypedArray,
    shape: readonly number[],
    axis: number,
    out: Int32Array,
  ): void;
}

function reduce(
  kind: ReduceKind,
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  out.fill(initialValue(kind, out));
  // Walk x in row-major order; the output offset follows with stride 0 along reduced axes. Rows
  // are x's last axis, unmerged: the order of the additions is the one the wasm backend's fused
  // kernels reproduce bit for bit.
  forEachRow(
    [keptShape],
    shape,
    (offsets, xOffset, n, steps) => {
      let o = offsets[0]!;
      const step = steps[0]!;
      if (kind === "sum") {
        if (step === 0) {
          out[o] = out[o]! + rowSum(x, xOffset, n);
        } else {
          for (let i = 0; i < n; i++, o += step) out[o] = out[o]! + x[xOffset + i]!;
        }
      } else if (kind === "max") {
        for (let i = 0; i < n; i++, o += step) {
          const v = x[xOffset + i]!;
          if (v > out[o]! || Number.isNaN(v)) out[o] = v;
        }
      } else {
        for (let i = 0; i < n; i++, o += step) {
          const v = x[xOffset + i]!;
          if (v < out[o]! || Number.isNaN(v)) out[o] = v;
        }
      }
    },
    false,
  );
}

/**
 * Σ x[from…from + n) in float64: four interleaved partial sums combined as (s0 + s1) + (s2 + s3),
 * then the last n mod 4 terms in order. Four independent additions per step instead of one
 * chain (about four times as fast), in the order the wasm kernel's two f64x2 sums reproduce.
 */
function rowSum(x: TypedArray, from: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[from + i]!;
    s1 += x[from + i + 1]!;
    s2 += x[from + i + 2]!;
    s3 += x[from + i + 3]!;
  }
  let total = s0 + s1 + (s2 + s3);
  for (; i < n; i++) total += x[from + i]!;
  return total;
}

/** The identity of the reduction; an Int32Array cannot hold ±∞, so it gets its own bounds. */
function initialValue(kind: ReduceKind, out: TypedArray): number {
  if (kind === "sum") return 0;
  const isInt = out instanceof Int32Array;
  if (kind === "max") return isInt ? -2147483648 : -Infinity;
  return isInt ? 2147483647 : Infinity;
}

function argReduce(
  kind: "argmax" | "argmin",
  x: TypedArray,
  shape: readonly number[],
  axis: number,
  out: Int32Array,
): void {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const n = shape[axis]!;
  const sign = kind === "argmax" ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let best = 0;
      let bestValue = sign * x[base]!;
      for (let k = 1; k < n && !Number.isNaN(bestValue); k++) {
        const v = sign * x[base + k * inner]!;
        // Strictly greater keeps the first of tied extremes; a NaN wins, as in NumPy.
        if (v > bestValue || Number.isNaN(v)) {
          best = k;
          bestValue = v;
        }
      }
      out[o * inner + j] = best;
    }
  }
}

export const jsReduceKernels: ReduceKernels = { reduce, argReduce };
