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

export interface NormKernels {
  /** out[c] = the mean and out[channels + c] = the biased variance of channel c's cells. */
  channelMoments(x: FloatArray, layout: ChannelLayout, out: FloatArray): void;
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
   * given: dx = weight/σ·(dy − mean(dy) − x̂·mean(dy·x̂)); params[c] = Σ dy·x̂ (the weight's) and
   * params[channels + c] = Σ dy (the bias's), sums over the channel's cells.
   */
  batchNormBackward(
    dy: FloatArray,
    x: FloatArray,
    layout: ChannelLayout,
    eps: number,
    weight: FloatArray | null,
    dx: FloatArray | null,
    params: FloatArray | null,
  ): void;
}

/**
 * Mean and biased variance per channel in one pass, in float64: sums of x − K and (x − K)² with
 * K the channel's first value (the shifted-data algorithm: no cancellation while K is within a
 * few standard deviations of the mean, which one of the channel's own values is). Four
 * accumulators each, so the adds do not wait on one another.
 */
function moments(x: FloatArray, { outer, channels, inner }: ChannelLayout) {
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  const count = outer * inner;
  const tail = inner & 3;
  for (let c = 0; c < channels; c++) {
    const shift = x[c * inner]!;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    let q0 = 0,
      q1 = 0,
      q2 = 0,
      q3 = 0;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      const end = base + inner - tail;
      let k = base;
      for (; k < end; k += 4) {
        const d0 = x[k]! - shift;
        const d1 = x[k + 1]! - shift;
        const d2 = x[k + 2]! - shift;
        const d3 = x[k + 3]! - shift;
        s0 += d0;
        s1 += d1;
        s2 += d2;
        s3 += d3;
        q0 += d0 * d0;
        q1 += d1 * d1;
        q2 += d2 * d2;
        q3 += d3 * d3;
      }
      for (; k < end + tail; k++) {
        const d = x[k]! - shift;
        s0 += d;
        q0 += d * d;
      }
    }
    const s = s0 + s1 + s2 + s3;
    const q = q0 + q1 + q2 + q3;
    mean[c] = shift + s / count;
    variance[c] = Math.max(0, (q - (s * s) / count) / count);
  }
  return { mean, variance };
}

function channelMoments(x: FloatArray, layout: ChannelLayout, out: FloatArray): void {
  const { mean, variance } = moments(x, layout);
  out.set(mean, 0);
  out.set(variance, layout.channels);
}

function batchNorm(
  x: FloatArray,
  layout: ChannelLayout,
  eps: number,
  weight: FloatArray,
  bias: FloatArray,
  y: FloatArray,
): void {
  const { outer, channels, inner } = layout;
  const { mean, variance } = moments(x, layout);
  for (let c = 0; c < channels; c++) {
    // y = x·scale + shift, folded once per channel.
    const scale = weight[c]! / Math.sqrt(variance[c]! + eps);
    const shift = bias[c]! - mean[c]! * scale;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      for (let k = base; k < base + inner; k++) y[k] = x[k]! * scale + shift;
    }
  }
}

function batchNormBackward(
  dy: FloatArray,
  x: FloatArray,
  layout: ChannelLayout,
  eps: number,
  weight: FloatArray | null,
  dx: FloatArray | null,
  params: FloatArray | null,
): void {
  const { outer, channels, inner } = layout;
  const { mean, variance } = moments(x, layout);
  const count = outer * inner;
  const tail = inner & 3;
  for (let c = 0; c < channels; c++) {
    const mu = mean[c]!;
    const invStd = 1 / Math.sqrt(variance[c]! + eps);
    // Σ dy and Σ dy·(x − μ); Σ dy·x̂ is the second times 1/σ.
    let g0 = 0,
      g1 = 0,
      g2 = 0,
      g3 = 0;
    let p0 = 0,
      p1 = 0,
      p2 = 0,
      p3 = 0;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      const end = base + inner - tail;
      let k = base;
      for (; k < end; k += 4) {
        g0 += dy[k]!;
        g1 += dy[k + 1]!;
        g2 += dy[k + 2]!;
        g3 += dy[k + 3]!;
        p0 += dy[k]! * (x[k]! - mu);
        p1 += dy[k + 1]! * (x[k + 1]! - mu);
        p2 += dy[k + 2]! * (x[k + 2]! - mu);
        p3 += dy[k + 3]! * (x[k + 3]! - mu);
      }
      for (; k < end + tail; k++) {
        g0 += dy[k]!;
        p0 += dy[k]! * (x[k]! - mu);
      }
    }
    const sumDy = g0 + g1 + g2 + g3;
    const sumDyXc = p0 + p1 + p2 + p3;
    if (params !== null) {
      params[c] = sumDyXc * invStd;
      params[channels + c] = sumDy;
    }
    if (dx === null) continue;
    // dx = a·dy + b·x + d per channel, from weight/σ·(dy − Σdy/n − x̂·Σdy·x̂/n).
    const a = weight![c]! * invStd;
    const b = (-a * sumDyXc * invStd * invStd) / count;
    const d = (-a * sumDy) / count - b * mu;
    for (let n = 0; n < outer; n++) {
      const base = (n * channels + c) * inner;
      for (let k = base; k < base + inner; k++) dx[k] = a * dy[k]! + b * x[k]! + d;
    }
  }
}

export const jsNormKernels: NormKernels = { channelMoments, batchNorm, batchNormBackward };
