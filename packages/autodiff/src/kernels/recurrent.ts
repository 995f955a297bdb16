import type { FloatArray } from "../dtype.js";
import { sigmoid, tanh } from "./transcendental.js";

// The LSTM cell's gate arithmetic in one pass each way. gates is viewed as [rows, 4·hidden]
// (PyTorch's order i, f, g, o along each row), the activations as [rows, 5·hidden] (i, f, g, o
// and tanh(c′)), c, h and the cell gradients as [rows, hidden]. Every value is computed in
// float64 from the inputs and rounded once when stored, so a float32 result is the same
// whichever backend computes it (assembly/recurrent.ts repeats these loops).

/** An LSTM cell's forward and backward over a block of rows. */
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

export const jsRecurrentKernels: RecurrentKernels = { lstmCell, lstmCellBackward };
