import type { FloatArray } from "../dtype.js";

// x is viewed as [rows, width]: each row is one normalised group of `width` contiguous values
// (the trailing axes of x), weight and bias are [width]. Sums run in float64 whatever the dtype.

/** Layer normalisation over the rows of a [rows, width] view; every output is written in full. */
export interface LayerNormKernels {
  /**
   * y = (x − mean)·rstd·weight + bias per row, with mean[r] and rstd[r] = 1/√(var + eps) (the
   * biased variance) written for the backward pass.
   */
  layerNorm(
    x: FloatArray,
    rows: number,
    width: number,
    eps: number,
    weight: FloatArray,
    bias: FloatArray,
    y: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
  ): void;
  /**
   * With ĝ = dy·weight and x̂ = (x − mean)·rstd per row: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),
   * dweight = Σ dy·x̂ and dbias = Σ dy over the rows, each written where given (null: not wanted).
   */
  layerNormBackward(
    dy: FloatArray,
    x: FloatArray,
    rows: number,
    width: number,
    weight: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
    dx: FloatArray | null,
    dweight: FloatArray | null,
    dbias: FloatArray | null,
  ): void;
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
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const end = base + width;
    let s = 0;
    for (let k = base; k < end; k++) s += x[k]!;
    const mu = s / width;
    // Two passes over a row that is still in cache: no cancellation, unlike Σx² − n·μ².
    let q = 0;
    for (let k = base; k < end; k++) {
      const d = x[k]! - mu;
      q += d * d;
    }
    const inv = 1 / Math.sqrt(q / width + eps);
    mean[r] = mu;
    rstd[r] = inv;
    for (let k = base, j = 0; k < end; k++, j++) {
      y[k] = (x[k]! - mu) * inv * weight[j]! + bias[j]!;
    }
  }
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
  const wantParams = dweight !== null || dbias !== null;
  const dw = wantParams ? new Float64Array(width) : null;
  const db = wantParams ? new Float64Array(width) : null;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const mu = mean[r]!;
    const inv = rstd[r]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < width; j++) {
      const d = dy[base + j]!;
      const xhat = (x[base + j]! - mu) * inv;
      const g = d * weight[j]!;
      sg += g;
      sgx += g * xhat;
      if (dw !== null) {
        dw[j] += d * xhat;
        db![j] += d;
      }
    }
    if (dx === null) continue;
    const meanG = sg / width;
    const meanGx = sgx / width;
    for (let j = 0; j < width; j++) {
      const xhat = (x[base + j]! - mu) * inv;
      dx[base + j] = inv * (dy[base + j]! * weight[j]! - meanG - xhat * meanGx);
    }
  }
  if (dweight !== null) dweight.set(dw!);
  if (dbias !== null) dbias.set(db!);
};

export const jsLayerNormKernels: LayerNormKernels = { layerNorm, layerNormBackward };
