import { jsRecurrentKernels, type RecurrentKernels } from "../../../kernels/recurrent.js";
import { singleThreadRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// The LSTM cell's gate arithmetic in wasm (assembly/recurrent.ts), float32 only, bit-identical to
// the js kernels; smaller cells than the elementwise threshold, and float64, stay in js.

function runtimeFor(arrays: readonly Float32Array[] | null, count: number) {
  if (arrays === null || count < wasmTuning.minElementwiseLength) return null;
  return singleThreadRuntime();
}

/** The arrays when every one is float32, else null. */
function float32(...arrays: unknown[]): Float32Array[] | null {
  return arrays.every((a) => a instanceof Float32Array) ? (arrays as Float32Array[]) : null;
}

const lstmCell: RecurrentKernels["lstmCell"] = (gates, c, rows, hidden, h, cNext, acts) => {
  const runtime = runtimeFor(float32(gates, c, h, cNext, acts), rows * hidden);
  if (runtime === null) return jsRecurrentKernels.lstmCell(gates, c, rows, hidden, h, cNext, acts);
  runtime.reset();
  const gatesAt = runtime.input(gates);
  const cAt = runtime.input(c);
  const hAt = runtime.output(h.byteLength);
  const cNextAt = runtime.output(cNext.byteLength);
  const actsAt = runtime.output(acts.byteLength);
  runtime.exports.lstmCellF32(gatesAt, cAt, rows, hidden, hAt, cNextAt, actsAt);
  runtime.copyOut(hAt, h);
  runtime.copyOut(cNextAt, cNext);
  runtime.copyOut(actsAt, acts);
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
  const runtime = runtimeFor(float32(acts, c, dh, dcNext, dgates, dc), rows * hidden);
  if (runtime === null) {
    return jsRecurrentKernels.lstmCellBackward(acts, c, dh, dcNext, rows, hidden, dgates, dc);
  }
  runtime.reset();
  const actsAt = runtime.input(acts);
  const cAt = runtime.input(c);
  const dhAt = runtime.input(dh);
  const dcNextAt = runtime.input(dcNext);
  const dgatesAt = runtime.output(dgates.byteLength);
  const dcAt = runtime.output(dc.byteLength);
  runtime.exports.lstmCellBackwardF32(actsAt, cAt, dhAt, dcNextAt, rows, hidden, dgatesAt, dcAt);
  runtime.copyOut(dgatesAt, dgates);
  runtime.copyOut(dcAt, dc);
};

export const wasmRecurrentKernels: RecurrentKernels = { lstmCell, lstmCellBackward };
