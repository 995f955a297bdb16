import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  jsElementwiseKernels,
  type BinaryKind,
  type UnaryKind,
} from "../../../kernels/elementwise.js";
import { tanh } from "../../../kernels/transcendental.js";
import { setWasmThreads, wasmAvailable } from "../index.js";
import { defaultWasmTuning, wasmTuning } from "../tuning.js";
import { wasmElementwiseKernels } from "./elementwise.js";

// The transcendental unary kernels in wasm (assembly/transcendental.ts) reproduce the js ones
// bit for bit: js calls V8's fdlibm Math.exp and Math.expm1, wasm its own ports of them, and both
// build tanh, sigmoid, erf and the GELUs from those with the same operations.

const KINDS: readonly UnaryKind[] = ["exp", "tanh", "sigmoid", "erf", "gelu", "geluTanh"];
/** GELU's gradients dy·gelu′(x), x from the sweep. */
const GRADIENT_KINDS: readonly BinaryKind[] = ["geluGrad", "geluTanhGrad"];

/**
 * Float32 values across every exponent: the bit patterns k·STRIDE (both signs, ±0, ±∞ and NaNs
 * among them), then the edges of each function's branches and ranges.
 */
function sweep(): Float32Array {
  const STRIDE = 4099;
  const bits = new Uint32Array(Math.ceil(2 ** 32 / STRIDE));
  for (let i = 0; i < bits.length; i++) bits[i] = i * STRIDE;
  const edges = [
    [0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN],
    // exp: |x| ≷ ln2/2 and 1.5·ln2, 2⁻²⁸, overflow (88.72…) and underflow (−103.97…) in float32.
    [0.3465735912, 1.0397207708, 2 ** -28, 88.7228317, 88.7228394, -103.972084, -87.3365479],
    // expm1 and tanh: 2⁻⁵⁵, 22, 56·ln2; erf's range ends 0.46875, 4 and 26.543.
    [2 ** -55, 22, 38.8162421, 0.46875, 4, 26.543, 5.9, -5.9, 9.3, -9.3],
  ].flat();
  const values = new Float32Array(bits.buffer);
  const out = new Float32Array(values.length + 2 * edges.length);
  out.set(values);
  edges.forEach((v, i) => {
    out[values.length + 2 * i] = v;
    out[values.length + 2 * i + 1] = -v;
  });
  return out;
}

/** Indices where a and b differ in bits (any NaN equals any NaN). */
function mismatches(a: Float32Array, b: Float32Array): number[] {
  const ua = new Uint32Array(a.buffer);
  const ub = new Uint32Array(b.buffer);
  const bad: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) bad.push(i);
  }
  return bad;
}

describe.runIf(wasmAvailable())("wasm transcendental kernels", () => {
  const x = sweep();

  beforeAll(() => {
    wasmTuning.minThreadWork = 1;
    wasmTuning.lagAware = false;
  });
  afterAll(() => {
    Object.assign(wasmTuning, defaultWasmTuning);
    setWasmThreads(2);
  });

  for (const kind of GRADIENT_KINDS) {
    for (const threads of [1, 2]) {
      it(`${kind} equals js bit for bit over ${x.length} float32 values, ${threads} thread(s)`, () => {
        setWasmThreads(threads);
        const dy = Float32Array.from(x, (_, i) => ((i * 7919) % 2001) / 1000 - 1);
        const shape = [x.length];
        const expected = new Float32Array(x.length);
        jsElementwiseKernels.binary(kind, dy, shape, x, shape, expected, shape);
        const actual = new Float32Array(x.length);
        wasmElementwiseKernels.binary(kind, dy, shape, x, shape, actual, shape);
        const bad = mismatches(expected, actual).slice(0, 5);
        expect(bad.map((i) => [x[i], dy[i], expected[i], actual[i]])).toEqual([]);
      });
    }
  }

  for (const kind of KINDS) {
    for (const threads of [1, 2]) {
      it(`${kind} equals js bit for bit over ${x.length} float32 values, ${threads} thread(s)`, () => {
        setWasmThreads(threads);
        const expected = new Float32Array(x.length);
        jsElementwiseKernels.unary(kind, x, expected, 0);
        const actual = new Float32Array(x.length);
        wasmElementwiseKernels.unary(kind, x, actual, 0);
        const bad = mismatches(expected, actual).slice(0, 5);
        expect(bad.map((i) => [x[i], expected[i], actual[i]])).toEqual([]);
      });
    }
  }
});

describe("js tanh", () => {
  it("equals the engine's Math.tanh to within an ulp (it is fdlibm's algorithm)", () => {
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const v = (i % 2 === 0 ? 1 : -1) * 2 ** (-30 + (60 * i) / 20000) * (1 + (i % 7) / 7);
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(Math.tanh(v)))) - 52);
      worst = Math.max(worst, Math.abs(tanh(v) - Math.tanh(v)) / ulp);
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect([tanh(0), tanh(-0), tanh(30), tanh(-Infinity), tanh(NaN)]).toEqual([0, -0, 1, -1, NaN]);
  });
});
