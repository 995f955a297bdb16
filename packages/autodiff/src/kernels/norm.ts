import type { FloatArray } from "../dtype.js";

/**
 * x viewed as [outer, channels, inner]: a channel's cells are `inner` contiguous values in each
 * of `outer` blocks. NCHW data is [N, C, H·W]; [N, C] data is [N, C, 1].
 */
export interface ChannelLayout {
  readonly outer: number;
  readonly channels: number;
  readonly inner: number;
}

/** Batch normalisation over the channels of a ChannelLayout; every output is written in full. */
export interface NormKernels {
  /** mean[c] and variance[c] (biased) of channel c's cells. */
  channelMoments(
    x: FloatArray,
    layout: ChannelLayout,
    mean: FloatArray,
    variance: FloatArray,
  ): void;
  /** y = (x − mean)/√(var + eps)·weight + bias per channel, with the batch's own mean and var. */
  batchNorm(
    x: FloatArray,
    layout: ChannelLayout,
    eps: number,
    weight: FloatArray,
    bias: FloatArray,
    y: FloatArray,
  ): void;
  /**
   * The gradients of batchNorm at x for the output cotangent dy, each written where its target is
   * given (null: not wanted): dx = weight/σ·(dy − mean(dy) − x̂·mean(dy·x̂)),
   * dweight[c] = Σ dy·x̂ and dbias[c] = Σ dy, sums over channel c's cells. weight may be null
   * only when dx is.
   */
  batchNormBackward(
    dy: FloatArray,
    x: FloatArray,
    layout: ChannelLayout,
    eps: number,
    weight: FloatArray | null,
    dx: FloatArray | null,
    dweight: FloatArray | null,
    dbias: FloatArray | null,
  ): void;
}

// The per-channel formulas below are shared with the wasm backend, whose kernels run the passes
// over the cells and leave these O(channels) steps to them.

/**
 * stats = [mean; biased variance] per channel, from the shifted sums s = Σ(x − K),
 * q = Σ(x − K)².
 */
export function finishMoments(
  shift: number,
  s: number,
  q: number,
  count: number,
): [mean: number, variance: number] {
  return [shift + s / count, Math.max(0, (q - (s * s) / count) / count)];
}

/** The batchNorm forward as y = x·scale + shift: [scale; shift] per channel. */
export function scaleShift(
  stats: Float64Array,
  channels: number,
  eps: number,
  weight: FloatArray,
  bias: FloatArray,
): Float64Array {
  const out = new Float64Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    const scale = weight[c]! / Math.sqrt(stats[channels + c]! + eps);
    out[c] = scale;
    out[channels + c] = bias[c]! - stats[c]! * scale;
  }
  return out;
}

/**
 * dweight[c] = Σ dy·x̂ and dbias[c] = Σ dy from sums = [Σ dy; Σ dy·(x − μ)], each written where
 * given.
 */
export function paramGrads(
  stats: Float64Array,
  sums: Float64Array,
  channels: number,
  eps: number,
  dweight: FloatArray | null,
  dbias: FloatArray | null,
): void {
  for (let c = 0; c < channels; c++) {
    if (dweight !== null) dweight[c] = sums[channels + c]! / Math.sqrt(stats[channels + c]! + eps);
    if (dbias !== null) dbias[c] = sums[c]!;
  }
}

/**
 * dx = a·dy + b·x + d per channel, which is weight/σ·(dy − Σdy/n − x̂·Σdy·x̂/n) expanded:
 * returns [a; b; d], from stats and sums = [Σ dy; Σ dy·(x − μ)].
 */
export function inputGradCoefficients(
  stats: Float64Array,
  sums: Float64Array,
  layout: ChannelLayout,
  eps: number,
  weight: FloatArray,
): Float64Array {
  const { channels } = layout;
  const count = layout.outer * layout.inner;
  const out = new Float64Array(3 * channels);
  for (let c = 0; c < channels; c++) {
    const invStd = 1 / Math.sqrt(stats[channels + c]! + eps);
    const a = weight[c]! * invStd;
    const b = (-a * sums[channels + c]! * invStd * invStd) / count;
    out[c] = a;
    out[channels + c] = b;
    out[2 * channels + c] = (-a * sums[c]!) / count - b * stats[c]!;
  }
  return out;
}

/**
 * [mean; biased variance] per channel in one pass, in float64: sums of x − K and (x − K)² with K
 * the channel's first value (the shifted-data algorithm: no cancellation while K lies within a
 * few standard deviations of the mean, as one of the channel's own values does).
 */
function moments(x: FloatArray, { outer, channels, inner }: ChannelLayout): Float64Array {
  const stats = new Float64Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    const shift = x[c * inner]!;
    // Two accumulators each, so consecutive adds do not wait on one another.
    let s0 = 0;
    let s1 = 0;
    let q0 = 0;
    let q1 = 0;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      const end = base + inner;
      let k = base;
      for (; k + 1 < end; k += 2) {
        const d0 = x[k]! - shift;
        const d1 = x[k + 1]! - shift;
        s0 += d0;
        s1 += d1;
        q0 += d0 * d0;
        q1 += d1 * d1;
      }
      if (k < end) {
        const d = x[k]! - shift;
        s0 += d;
        q0 += d * d;
      }
    }
    [stats[c], stats[channels + c]] = finishMoments(shift, s0 + s1, q0 + q1, outer * inner);
  }
  return stats;
}

/** [Σ dy; Σ dy·(x − μ)] per channel, in float64. */
function gradSums(
  dy: FloatArray,
  x: FloatArray,
  { outer, channels, inner }: ChannelLayout,
  stats: Float64Array,
): Float64Array {
  const sums = new Float64Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    const mu = stats[c]!;
    let g = 0;
    let p = 0;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      for (let k = base; k < base + inner; k++) {
        g += dy[k]!;
        p += dy[k]! * (x[k]! - mu);
      }
    }
    sums[c] = g;
    sums[channels + c] = p;
  }
  return sums;
}

/** out = x·coefficients[c] + coefficients[channels + c] (+ dy·… when given) per channel. */
function perChannel(
  out: FloatArray,
  { outer, channels, inner }: ChannelLayout,
  x: FloatArray,
  xScale: Float64Array,
  offset: Float64Array,
  dy: FloatArray | null,
  dyScale: Float64Array | null,
): void {
  for (let c = 0; c < channels; c++) {
    const b = xScale[c]!;
    const d = offset[c]!;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      if (dy === null) {
        for (let k = base; k < base + inner; k++) out[k] = x[k]! * b + d;
      } else {
        const a = dyScale![c]!;
        for (let k = base; k < base + inner; k++) out[k] = a * dy[k]! + b * x[k]! + d;
      }
    }
  }
}

const channelMoments: NormKernels["channelMoments"] = (x, layout, mean, variance) => {
  const stats = moments(x, layout);
  mean.set(stats.subarray(0, layout.channels));
  variance.set(stats.subarray(layout.channels));
};

const batchNorm: NormKernels["batchNorm"] = (x, layout, eps, weight, bias, y) => {
  const { channels } = layout;
  const coefficients = scaleShift(moments(x, layout), channels, eps, weight, bias);
  const scale = coefficients.subarray(0, channels);
  perChannel(y, layout, x, scale, coefficients.subarray(channels), null, null);
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
  const { channels } = layout;
  const stats = moments(x, layout);
  const sums = gradSums(dy, x, layout, stats);
  paramGrads(stats, sums, channels, eps, dweight, dbias);
  if (dx === null) return;
  const k = inputGradCoefficients(stats, sums, layout, eps, weight!);
  const [a, b, d] = [0, 1, 2].map((i) => k.subarray(i * channels, (i + 1) * channels));
  perChannel(dx, layout, x, b!, d!, dy, a!);
};

export const jsNormKernels: NormKernels = { channelMoments, batchNorm, batchNormBackward };
