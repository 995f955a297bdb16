import type { FloatArray } from "../../../dtype.js";
import {
  finishMoments,
  inputGradCoefficients,
  jsNormKernels,
  paramGrads,
  scaleShift,
  type ChannelLayout,
  type NormKernels,
} from "../../../kernels/norm.js";
import { singleThreadRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// Float32 batch norm in wasm (assembly/norm.ts): the passes over the cells run there, four lanes
// at a time; the per-channel formulas are js's own (kernels/norm.ts), so the two backends differ
// only in the order float64 sums are added and in float32 rounding of the per-cell arithmetic.

function runtimeFor(x: FloatArray, ...others: (FloatArray | null)[]): WasmRuntime | null {
  if (x.length < wasmTuning.minNormLength || !(x instanceof Float32Array)) return null;
  for (const array of others) if (array !== null && !(array instanceof Float32Array)) return null;
  return singleThreadRuntime(x, ...others);
}

/** [mean; biased variance] per channel of x already at `xAt`. */
function moments(runtime: WasmRuntime, x: FloatArray, xAt: number, layout: ChannelLayout) {
  const { outer, channels, inner } = layout;
  const sumsAt = runtime.alloc(16 * channels);
  runtime.exports.shiftedSumsF32(xAt, outer, channels, inner, sumsAt);
  const sums = new Float64Array(2 * channels);
  runtime.copyOut(sumsAt, sums);
  const stats = new Float64Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    [stats[c], stats[channels + c]] = finishMoments(
      x[c * inner]!,
      sums[c]!,
      sums[channels + c]!,
      outer * inner,
    );
  }
  return stats;
}

const channelMoments: NormKernels["channelMoments"] = (x, layout, mean, variance) => {
  const runtime = runtimeFor(x);
  if (runtime === null) return jsNormKernels.channelMoments(x, layout, mean, variance);
  runtime.reset();
  const stats = moments(runtime, x, runtime.copyIn(x), layout);
  mean.set(stats.subarray(0, layout.channels));
  variance.set(stats.subarray(layout.channels));
};

const batchNorm: NormKernels["batchNorm"] = (x, layout, eps, weight, bias, y) => {
  const runtime = runtimeFor(x, y);
  if (runtime === null) return jsNormKernels.batchNorm(x, layout, eps, weight, bias, y);
  const { outer, channels, inner } = layout;
  runtime.reset();
  const xAt = runtime.copyIn(x);
  const stats = moments(runtime, x, xAt, layout);
  const coefficientsAt = runtime.copyIn(scaleShift(stats, channels, eps, weight, bias));
  const yAt = runtime.alloc(4 * x.length);
  runtime.exports.scaleShiftF32(xAt, outer, channels, inner, coefficientsAt, yAt);
  runtime.copyOut(yAt, y);
};

const batchNormBackward: NormKernels["batchNormBackward"] = (
  dy,
  x,
  layout,
  eps,
  weight,
  dx,
  dweight,
  dbias,
) => {
  const runtime = runtimeFor(x, dy, dx);
  if (runtime === null) {
    return jsNormKernels.batchNormBackward(dy, x, layout, eps, weight, dx, dweight, dbias);
  }
  const { outer, channels, inner } = layout;
  runtime.reset();
  const xAt = runtime.copyIn(x);
  const dyAt = runtime.copyIn(dy);
  const stats = moments(runtime, x, xAt, layout);
  const statsAt = runtime.copyIn(stats);
  const sumsAt = runtime.alloc(16 * channels);
  runtime.exports.batchNormSumsF32(dyAt, xAt, outer, channels, inner, statsAt, sumsAt);
  const sums = new Float64Array(2 * channels);
  runtime.copyOut(sumsAt, sums);
  paramGrads(stats, sums, channels, eps, dweight, dbias);
  if (dx === null) return;
  const coefficients = inputGradCoefficients(stats, sums, layout, eps, weight!);
  const coefficientsAt = runtime.copyIn(coefficients);
  const dxAt = runtime.alloc(4 * x.length);
  runtime.exports.batchNormInputGradF32(dyAt, xAt, outer, channels, inner, coefficientsAt, dxAt);
  runtime.copyOut(dxAt, dx);
};

/** The batch-norm kernels the wasm backend replaces. */
export const wasmNormKernels: NormKernels = { channelMoments, batchNorm, batchNormBackward };
