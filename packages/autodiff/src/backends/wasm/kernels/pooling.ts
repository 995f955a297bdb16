import type { FloatArray, TypedArray } from "../../../dtype.js";
import {
  isPlain2x2,
  jsPoolKernels,
  type PoolGeometry,
  type PoolKernels,
  type PoolPlanes,
} from "../../../kernels/pool.js";
import { singleThreadRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// 2×2, stride-2 pooling of float32 (the common CNN case) in wasm, four windows per SIMD step;
// results are identical to js (assembly/pool.ts). Other geometries and dtypes stay in js.

/** The runtime when `x` is float32, large enough and pooled 2×2 with stride 2, else null. */
function runtimeFor(g: PoolGeometry, ...arrays: TypedArray[]): WasmRuntime | null {
  if (g.planes * g.h.size * g.w.size < wasmTuning.minPoolingLength || !isPlain2x2(g)) return null;
  for (const array of arrays) if (!(array instanceof Float32Array)) return null;
  return singleThreadRuntime(...arrays);
}

function maxPool2d(x: TypedArray, g: PoolGeometry, y: TypedArray, argmax: Int32Array): void {
  const runtime = runtimeFor(g, x, y);
  if (runtime === null) {
    jsPoolKernels.maxPool2d(x, g, y, argmax);
    return;
  }
  runtime.reset();
  const yAt = runtime.output(y);
  const argmaxAt = runtime.output(argmax);
  const xAt = runtime.input(x as Float32Array);
  const { planes, h, w } = g;
  runtime.exports.maxPool2x2F32(xAt, planes, h.size, w.size, h.out, w.out, yAt, argmaxAt);
  runtime.copyOut(yAt, y as Float32Array);
  runtime.copyOut(argmaxAt, argmax);
}

function avgPool2d(x: FloatArray, g: PoolGeometry, countIncludePad: boolean, y: FloatArray): void {
  const runtime = runtimeFor(g, x, y);
  if (runtime === null) {
    jsPoolKernels.avgPool2d(x, g, countIncludePad, y);
    return;
  }
  runtime.reset();
  const yAt = runtime.output(y);
  const xAt = runtime.input(x);
  const { planes, h, w } = g;
  runtime.exports.avgPool2x2F32(xAt, planes, h.size, w.size, h.out, w.out, yAt);
  runtime.copyOut(yAt, y);
}

function avgPool2dBackward(
  dy: FloatArray,
  g: PoolGeometry,
  countIncludePad: boolean,
  dx: FloatArray,
): void {
  const runtime = runtimeFor(g, dy, dx);
  if (runtime === null) {
    jsPoolKernels.avgPool2dBackward(dy, g, countIncludePad, dx);
    return;
  }
  runtime.reset();
  const dxAt = runtime.output(dx);
  const dyAt = runtime.input(dy);
  const { planes, h, w } = g;
  runtime.exports.avgPool2x2BackwardF32(dyAt, planes, h.size, w.size, h.out, w.out, dxAt);
  runtime.copyOut(dxAt, dx);
}

/**
 * Where every argmax lies in its window's 2×2 block (as 2×2, stride-2 pooling makes them), one
 * store per window into a zeroed dx (the blocks are disjoint); the js scatter takes any other
 * layout, and reports indices outside dx.
 */
function maxPool2dBackward(
  dy: FloatArray,
  argmax: Int32Array,
  dx: FloatArray,
  planes: PoolPlanes | null,
): number {
  const runtime = singleThreadRuntime(dy, argmax, dx);
  if (
    runtime === null ||
    planes === null ||
    !(dy instanceof Float32Array) ||
    !(dx instanceof Float32Array) ||
    dx.length < wasmTuning.minPoolingLength ||
    2 * planes.outH > planes.height ||
    2 * planes.outW > planes.width
  ) {
    return jsPoolKernels.maxPool2dBackward(dy, argmax, dx, planes);
  }
  runtime.reset();
  const dxAt = runtime.output(dx);
  const dyAt = runtime.input(dy);
  const argmaxAt = runtime.input(argmax);
  const { height, width, outH, outW } = planes;
  const outside = runtime.exports.maxPool2x2BackwardF32(
    dyAt,
    argmaxAt,
    planes.planes,
    height,
    width,
    outH,
    outW,
    dxAt,
  );
  if (outside >= 0) return jsPoolKernels.maxPool2dBackward(dy, argmax, dx, planes);
  runtime.copyOut(dxAt, dx);
  return -1;
}

/** The pooling kernels the wasm backend replaces. */
export const wasmPoolKernels: PoolKernels = {
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};
