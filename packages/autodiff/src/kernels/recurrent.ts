import type { FloatArray } from "../dtype.js";
import { sigmoid, tanh } from "./transcendental.js";

// The LSTM and GRU cells' gate arithmetic in one pass each way. Stacked inputs are viewed as
// [rows, k·hidden] (k blocks in PyTorch's gate order along each row), states and their gradients
// as [rows, hidden]. Every value is computed in float64 from the inputs and rounded once when
// stored, so a float32 result is the same whichever backend computes it (assembly/recurrent.ts
// repeats these loops).

/** The LSTM and GRU cells' forward and backward over a block of rows. */
export interface RecurrentKernels {
  /**
   * i, f, o = σ(gates), g = tanh(gates); cNext = f·c + i·g, h = o·tanh(cNext) (from cNext before
   * rounding); acts = [i, f, g, o, tanh(cNext)] for the backward pass.
   */
  lstmCell(
    gates: FloatArray,
    c: FloatArray,
    rows: number,
    hidden: number,
    h: FloatArray,
    cNext: FloatArray,
    acts: FloatArray,
  ): void;
  /**
   * The gradients of lstmCell's h and cNext for cotangents dh and dcNext, from its activations:
   * with δ = dcNext + dh·o·(1 − t²), t = tanh(cNext), dgates = [δ·g·i(1 − i), δ·c·f(1 − f),
   * δ·i·(1 − g²), dh·t·o(1 − o)] and dc = δ·f.
   */
  lstmCellBackward(
    acts: FloatArray,
    c: FloatArray,
    dh: FloatArray,
    dcNext: FloatArray,
    rows: number,
    hidden: number,
    dgates: FloatArray,
    dc: FloatArray,
  ): void;
  /**
   * With xs and hs = [r, z, n] blocks of the input and hidden projections: r = σ(x_r + h_r),
   * z = σ(x_z + h_z), n = tanh(x_n + r·h_n), hNext = n + z·(h − n); acts = [r, z, n].
   */
  gruCell(
    xs: FloatArray,
    hs: FloatArray,
    h: FloatArray,
    rows: number,
    hidden: number,
    hNext: FloatArray,
    acts: FloatArray,
  ): void;
  /**
   * The gradients of gruCell's hNext for cotangent dh, from its activations: with
   * ν = dh·(1 − z)·(1 − n²), ρ = ν·h_n·r(1 − r) and ζ = dh·(h − n)·z(1 − z), dxs = [ρ, ζ, ν],
   * dhs = [ρ, ζ, ν·r] and dhPrev = dh·z.
   */
  gruCellBackward(
    acts: FloatArray,
    hs: FloatArray,
    h: FloatArray,
    dh: FloatArray,
    rows: number,
    hidden: number,
    dxs: FloatArray,
    dhs: FloatArray,
    dhPrev: FloatArray,
  ): void;
}

const lstmCell: RecurrentKernels["lstmCell"] = (gates, c, rows, hidden, h, cNext, acts) => {
  for (let r = 0; r < rows; r++) {
    const row = r * 4 * hidden;
    const actsRow = r * 5 * hidden;
    for (let j = 0; j < hidden; j++) {
      const at = row + j;
      const i = sigmoid(gates[at]!);
      const f = sigmoid(gates[at + hidden]!);
      const g = tanh(gates[at + 2 * hidden]!);
      const o = sigmoid(gates[at + 3 * hidden]!);
      const k = r * hidden + j;
      const next = f * c[k]! + i * g;
      const t = tanh(next);
      cNext[k] = next;
      h[k] = o * t;
      const a = actsRow + j;
      acts[a] = i;
      acts[a + hidden] = f;
      acts[a + 2 * hidden] = g;
      acts[a + 3 * hidden] = o;
      acts[a + 4 * hidden] = t;
    }
  }
};

const lstmCellBackward: RecurrentKernels["lstmCellBackward"] = (
  acts,
  c,
  dh,
  dcNext,
  rows,
  hidden,
  dgates,
  dc,
) => {
  for (let r = 0; r < rows; r++) {
    const actsRow = r * 5 * hidden;
    const row = r * 4 * hidden;
    for (let j = 0; j < hidden; j++) {
      const a = actsRow + j;
      const i = acts[a]!;
      const f = acts[a + hidden]!;
      const g = acts[a + 2 * hidden]!;
      const o = acts[a + 3 * hidden]!;
      const t = acts[a + 4 * hidden]!;
      const k = r * hidden + j;
      const back = dh[k]!;
      const delta = dcNext[k]! + back * o * (1 - t * t);
      const at = row + j;
      dgates[at] = delta * g * (i * (1 - i));
      dgates[at + hidden] = delta * c[k]! * (f * (1 - f));
      dgates[at + 2 * hidden] = delta * i * (1 - g * g);
      dgates[at + 3 * hidden] = back * t * (o * (1 - o));
      dc[k] = delta * f;
    }
  }
};

const gruCell: RecurrentKernels["gruCell"] = (xs, hs, h, rows, hidden, hNext, acts) => {
  for (let row = 0; row < rows; row++) {
    const start = row * 3 * hidden;
    for (let j = 0; j < hidden; j++) {
      const a = start + j;
      const r = sigmoid(xs[a]! + hs[a]!);
      const z = sigmoid(xs[a + hidden]! + hs[a + hidden]!);
      const n = tanh(xs[a + 2 * hidden]! + r * hs[a + 2 * hidden]!);
      const k = row * hidden + j;
      hNext[k] = n + z * (h[k]! - n);
      acts[a] = r;
      acts[a + hidden] = z;
      acts[a + 2 * hidden] = n;
    }
  }
};

const gruCellBackward: RecurrentKernels["gruCellBackward"] = (
  acts,
  hs,
  h,
  dh,
  rows,
  hidden,
  dxs,
  dhs,
  dhPrev,
) => {
  for (let row = 0; row < rows; row++) {
    const start = row * 3 * hidden;
    for (let j = 0; j < hidden; j++) {
      const a = start + j;
      const r = acts[a]!;
      const z = acts[a + hidden]!;
      const n = acts[a + 2 * hidden]!;
      const k = row * hidden + j;
      const back = dh[k]!;
      const nu = back * (1 - z) * (1 - n * n);
      const rho = nu * hs[a + 2 * hidden]! * (r * (1 - r));
      const zeta = back * (h[k]! - n) * (z * (1 - z));
      dxs[a] = rho;
      dxs[a + hidden] = zeta;
      dxs[a + 2 * hidden] = nu;
      dhs[a] = rho;
      dhs[a + hidden] = zeta;
      dhs[a + 2 * hidden] = nu * r;
      dhPrev[k] = back * z;
    }
  }
};

export const jsRecurrentKernels: RecurrentKernels = {
  lstmCell,
  lstmCellBackward,
  gruCell,
  gruCellBackward,
};
