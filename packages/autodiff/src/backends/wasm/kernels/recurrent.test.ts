import { describe, expect, it } from "vitest";
import { jsRecurrentKernels } from "../../../kernels/recurrent.js";
import { prng } from "../../../index.js";
import { wasmAvailable } from "../index.js";
import { wasmRecurrentKernels } from "./recurrent.js";

// The wasm LSTM and GRU cell kernels (assembly/recurrent.ts: two hidden units per f64x2, an odd
// last one alone) give the js kernels' bits, forward and backward.

const [ROWS, HIDDEN] = [64, 37];

/** n float32 normal values with standard deviation `std`. */
const values = (n: number, seed: number, std = 2) =>
  prng(seed).normal([n], { std }).data as Float32Array;

/** Runs `call` on js and on wasm with fresh outputs of the given sizes; returns both sets. */
function both(
  sizes: readonly number[],
  call: (kernels: typeof jsRecurrentKernels, outs: Float32Array[]) => void,
) {
  return [jsRecurrentKernels, wasmRecurrentKernels].map((kernels) => {
    const outs = sizes.map((n) => new Float32Array(n));
    call(kernels, outs);
    return outs;
  });
}

describe.runIf(wasmAvailable())("wasm recurrent cell kernels", () => {
  it("lstmCell and lstmCellBackward equal js bit for bit (odd hidden size)", () => {
    const [gates, c, dh, dc] = [
      values(ROWS * 4 * HIDDEN, 1),
      ...[2, 3, 4].map((s) => values(ROWS * HIDDEN, s)),
    ];
    const [js, wasm] = both(
      [ROWS * HIDDEN, ROWS * HIDDEN, ROWS * 5 * HIDDEN],
      (k, [h, cNext, acts]) => k.lstmCell(gates!, c!, ROWS, HIDDEN, h!, cNext!, acts!),
    );
    expect(wasm).toEqual(js);
    const acts = js![2]!;
    const [jsBack, wasmBack] = both([ROWS * 4 * HIDDEN, ROWS * HIDDEN], (k, [dgates, dcPrev]) =>
      k.lstmCellBackward(acts, c!, dh!, dc!, ROWS, HIDDEN, dgates!, dcPrev!),
    );
    expect(wasmBack).toEqual(jsBack);
  });

  it("gruCell and gruCellBackward equal js bit for bit (odd hidden size)", () => {
    const [xs, hs] = [values(ROWS * 3 * HIDDEN, 5), values(ROWS * 3 * HIDDEN, 6)];
    const [h, dh] = [values(ROWS * HIDDEN, 7, 1), values(ROWS * HIDDEN, 8)];
    const [js, wasm] = both([ROWS * HIDDEN, ROWS * 3 * HIDDEN], (k, [hNext, acts]) =>
      k.gruCell(xs, hs, h, ROWS, HIDDEN, hNext!, acts!),
    );
    expect(wasm).toEqual(js);
    const acts = js![1]!;
    const sizes = [ROWS * 3 * HIDDEN, ROWS * 3 * HIDDEN, ROWS * HIDDEN];
    const [jsBack, wasmBack] = both(sizes, (k, [dxs, dhs, dhPrev]) =>
      k.gruCellBackward(acts, hs, h, dh, ROWS, HIDDEN, dxs!, dhs!, dhPrev!),
    );
    expect(wasmBack).toEqual(jsBack);
  });
});
