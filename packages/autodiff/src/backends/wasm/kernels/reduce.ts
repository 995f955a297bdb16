import type { TypedArray } from "../../../dtype.js";
import { jsReduceKernels, type ReduceKernels, type ReduceKind } from "../../../kernels/reduce.js";
import { jsShapeKernels, type ShapeKernels } from "../../../kernels/shape.js";
import { broadcastStrides } from "../../../kernels/strided.js";
import { singleThreadRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// Float32 sum and scatter-add in wasm, in the js kernels' order and rounding (identical
// results): the bias gradients and the max-pool gradient of a CNN step, whose js loops pay a
// callback per row or per element.

function reduce(
  kind: ReduceKind,
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  out: TypedArray,
): void {
  const runtime = singleThreadRuntime(x, out);
  if (
    kind !== "sum" ||
    runtime === null ||
    shape.length === 0 ||
    !(x instanceof Float32Array) ||
    !(out instanceof Float32Array) ||
    x.length < wasmTuning.minReduceLength
  ) {
    jsReduceKernels.reduce(kind, x, shape, axes, out);
    return;
  }
  runtime.reset();
  const outAt = runtime.output(out);
  const xAt = runtime.input(x);
  sumIn(runtime, xAt, shape, axes, outAt);
  runtime.copyOut(outAt, out);
}

/**
 * @internal The float32 sum of x (of `shape`, already in the arena) over `axes`, written over
 * the out block (whose layout is shape with those axes set to 1).
 */
export function sumIn(
  runtime: WasmRuntime,
  xAt: number,
  shape: readonly number[],
  axes: readonly number[],
  outAt: number,
): void {
  const rank = shape.length;
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  let size = 1;
  for (const d of kept) size *= d;
  runtime.exports.zeroBytes(outAt, 4 * size);
  // shape, the output's strides over x's shape (0 along reduced axes), then the odometer.
  const walk = runtime.args([...shape, ...broadcastStrides(kept, shape), ...shape.map(() => 0)]);
  runtime.exports.sumF32(xAt, rank, walk, walk + 4 * rank, outAt);
}

function scatterAdd(
  updates: TypedArray,
  outer: number,
  n: number,
  inner: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const runtime = singleThreadRuntime(updates, indices, out);
  if (
    runtime === null ||
    !(updates instanceof Float32Array) ||
    !(out instanceof Float32Array) ||
    updates.length < wasmTuning.minReduceLength
  ) {
    jsShapeKernels.scatterAdd(updates, outer, n, inner, indices, out);
    return;
  }
  runtime.reset();
  const outAt = runtime.output(out);
  runtime.exports.zeroBytes(outAt, 4 * out.length);
  const updatesAt = runtime.input(updates);
  const indicesAt = runtime.input(indices);
  runtime.exports.scatterAddF32(updatesAt, outer, n, inner, indicesAt, indices.length, outAt);
  runtime.copyOut(outAt, out);
}

/** The reduce and shape kernels the wasm backend replaces. */
export const wasmReduceKernels: Pick<ReduceKernels, "reduce"> & Pick<ShapeKernels, "scatterAdd"> = {
  reduce,
  scatterAdd,
};
