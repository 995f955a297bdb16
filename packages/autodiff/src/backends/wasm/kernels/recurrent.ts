import { jsRecurrentKernels, type RecurrentKernels } from "../../../kernels/recurrent.js";
import { singleThreadRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// The LSTM and GRU cells' gate arithmetic in wasm (assembly/recurrent.ts), float32 only,
// bit-identical to the js kernels; smaller cells than the elementwise threshold, and float64,
// stay in js.

function runtimeFor(arrays: readonly Float32Array[] | null, count: number) {
  if (arrays === null || count < wasmTuning.minElementwiseLength) return null;
  return singleThreadRuntime(...arrays);
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
  const hAt = runtime.output(h);
  const cNextAt = runtime.output(cNext);
  const actsAt = runtime.output(acts);
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
  const dgatesAt = runtime.output(dgates);
  const dcAt = runtime.output(dc);
  runtime.exports.lstmCellBackwardF32(actsAt, cAt, dhAt, dcNextAt, rows, hidden, dgatesAt, dcAt);
  runtime.copyOut(dgatesAt, dgates);
  runtime.copyOut(dcAt, dc);
};

const gruCell: RecurrentKernels["gruCell"] = (xs, hs, h, rows, hidden, hNext, acts) => {
  const runtime = runtimeFor(float32(xs, hs, h, hNext, acts), rows * hidden);
  if (runtime === null) return jsRecurrentKernels.gruCell(xs, hs, h, rows, hidden, hNext, acts);
  runtime.reset();
  const xsAt = runtime.input(xs);
  const hsAt = runtime.input(hs);
  const hAt = runtime.input(h);
  const hNextAt = runtime.output(hNext);
  const actsAt = runtime.output(acts);
  runtime.exports.gruCellF32(xsAt, hsAt, hAt, rows, hidden, hNextAt, actsAt);
  runtime.copyOut(hNextAt, hNext);
  runtime.copyOut(actsAt, acts);
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
  const runtime = runtimeFor(float32(acts, hs, h, dh, dxs, dhs, dhPrev), rows * hidden);
  if (runtime === null) {
    return jsRecurrentKernels.gruCellBackward(acts, hs, h, dh, rows, hidden, dxs, dhs, dhPrev);
  }
  runtime.reset();
  const actsAt = runtime.input(acts);
  const hsAt = runtime.input(hs);
  const hAt = runtime.input(h);
  const dhAt = runtime.input(dh);
  const dxsAt = runtime.output(dxs);
  const dhsAt = runtime.output(dhs);
  const dhPrevAt = runtime.output(dhPrev);
  runtime.exports.gruCellBackwardF32(actsAt, hsAt, hAt, dhAt, rows, hidden, dxsAt, dhsAt, dhPrevAt);
  runtime.copyOut(dxsAt, dxs);
  runtime.copyOut(dhsAt, dhs);
  runtime.copyOut(dhPrevAt, dhPrev);
};

export const wasmRecurrentKernels: RecurrentKernels = {
  lstmCell,
  lstmCellBackward,
  gruCell,
  gruCellBackward,
};
