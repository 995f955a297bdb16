import type { FloatArray } from "../../../dtype.js";
import { jsLayerNormKernels, type LayerNormKernels } from "../../../kernels/layerNorm.js";
import { singleThreadRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// Float32 layer norm in wasm (assembly/layerNorm.ts), one call per op over every row; below
// batch norm's size threshold, or in float64, the js kernels run. The two backends differ only
// in the order float64 sums are added and in float32 rounding of the per-element arithmetic.

function runtimeFor(x: FloatArray, ...others: (FloatArray | null)[]): WasmRuntime | null {
  if (x.length < wasmTuning.minNormLength || !(x instanceof Float32Array)) return null;
  for (const array of others) if (array !== null && !(array instanceof Float32Array)) return null;
  return singleThreadRuntime(x, ...others);
}

const layerNorm: LayerNormKernels["layerNorm"] = (
  x,
  rows,
  width,
  eps,
  weight,
  bias,
  y,
  mean,
  rstd,
) => {
  const runtime = runtimeFor(x, weight, bias, y, mean, rstd);
  if (runtime === null) {
    return jsLayerNormKernels.layerNorm(x, rows, width, eps, weight, bias, y, mean, rstd);
  }
  runtime.reset();
  const xAt = runtime.input(x);
  const weightAt = runtime.input(weight);
  const biasAt = runtime.input(bias);
  const yAt = runtime.output(y);
  const meanAt = runtime.output(mean);
  const rstdAt = runtime.output(rstd);
  runtime.exports.layerNormF32(xAt, rows, width, eps, weightAt, biasAt, yAt, meanAt, rstdAt);
  runtime.copyOut(yAt, y);
  runtime.copyOut(meanAt, mean);
  runtime.copyOut(rstdAt, rstd);
};

const layerNormBackward: LayerNormKernels["layerNormBackward"] = (
  dy,
  x,
  rows,
  width,
  weight,
  mean,
  rstd,
  dx,
  dweight,
  dbias,
) => {
  const runtime = runtimeFor(x, dy, weight, mean, rstd, dx, dweight, dbias);
  if (runtime === null) {
    return jsLayerNormKernels.layerNormBackward(
      dy,
      x,
      rows,
      width,
      weight,
      mean,
      rstd,
      dx,
      dweight,
      dbias,
    );
  }
  runtime.reset();
  const dyAt = runtime.input(dy);
  const xAt = runtime.input(x);
  const weightAt = runtime.input(weight);
  const meanAt = runtime.input(mean);
  const rstdAt = runtime.input(rstd);
  // The parameter gradients accumulate over the rows in float64 ([width] each), from zero.
  const dweightAt = runtime.zeros(2 * width);
  const dbiasAt = runtime.zeros(2 * width);
  const dxAt = dx === null ? 0 : runtime.output(dx);
  runtime.exports.layerNormBackwardF32(
    dyAt,
    xAt,
    rows,
    width,
    weightAt,
    meanAt,
    rstdAt,
    dxAt,
    dweightAt,
    dbiasAt,
  );
  if (dx !== null) runtime.copyOut(dxAt, dx);
  const sums = new Float64Array(width);
  if (dweight !== null) {
    runtime.copyOut(dweightAt, sums);
    dweight.set(sums);
  }
  if (dbias !== null) {
    runtime.copyOut(dbiasAt, sums);
    dbias.set(sums);
  }
};

/** The layer-norm kernels the wasm backend replaces. */
export const wasmLayerNormKernels: LayerNormKernels = { layerNorm, layerNormBackward };
