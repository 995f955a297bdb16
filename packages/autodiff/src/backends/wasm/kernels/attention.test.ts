import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  getBackend,
  randomKey,
  randomNormal,
  scaledDotProductAttention,
  setBackend,
  tensor,
  type Tensor,
} from "../../../index.js";
import { caught } from "../../../../test/helpers.js";
import type { FloatArray } from "../../../dtype.js";
import {
  attentionBackward as jsBackward,
  attentionForward as jsForward,
  type AttentionLayout,
} from "../../../kernels/attention.js";
import { jsMatmulKernels } from "../../../kernels/matmul.js";
import {
  attentionLayout,
  attentionShapes,
  type AttentionAttrs,
} from "../../../ops/attention/layout.js";
import { wasmAvailable } from "../index.js";
import { defaultWasmTuning, wasmTuning } from "../tuning.js";
import { wasmAttentionKernels } from "./attention.js";
import { wasmMatmulKernels } from "./matmul.js";

const OP = "scaledDotProductAttention";

/** Everything one call of the kernels reads and writes. */
interface Problem {
  layout: AttentionLayout;
  q: FloatArray;
  k: FloatArray;
  v: FloatArray;
  dy: FloatArray;
  dlse: FloatArray;
}

/** Normal values of `shape` from randomKey(seed), as float32 or float64. */
function normal(seed: number, shape: number[], dtype: "float32" | "float64"): FloatArray {
  return randomNormal(randomKey(seed), shape, { dtype }).buffer as FloatArray;
}

/** q [...lead, Lq, E], k [...lead, Lk, E], v [...lead, Lk, Ev] and cotangents, laid out. */
function problem(
  lead: number[],
  [lq, lk, e, ev]: [number, number, number, number],
  attrs: AttentionAttrs = {},
  mask?: Tensor,
  dtype: "float32" | "float64" = "float32",
): Problem {
  const s = attentionShapes(OP, [...lead, lq, e], [...lead, lk, e], [...lead, lk, ev]);
  return {
    layout: attentionLayout(OP, s, attrs, mask),
    q: normal(1, [...lead, lq, e], dtype),
    k: normal(2, [...lead, lk, e], dtype),
    v: normal(3, [...lead, lk, ev], dtype),
    dy: normal(4, [...lead, lq, ev], dtype),
    dlse: normal(5, [...lead, lq], dtype),
  };
}

/** y, lse, dq, dk, dv and dmask (null without a float mask) of one set of kernels. */
function evaluate(
  { layout, q, k, v }: Problem,
  forward: (y: FloatArray, lse: FloatArray) => void,
  backward: (
    y: FloatArray,
    lse: FloatArray,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    dmask: FloatArray | null,
  ) => void,
): FloatArray[] {
  const like = (n: number) =>
    q instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  const { heads, lq, ev } = layout;
  const y = like(heads * lq * ev);
  const lse = like(heads * lq);
  forward(y, lse);
  const [dq, dk, dv] = [q, k, v].map((x) => like(x.length));
  const mask = layout.mask;
  const dmask = mask !== null && mask.additive ? like(mask.data.length) : null;
  backward(y, lse, dq!, dk!, dv!, dmask);
  return dmask === null ? [y, lse, dq!, dk!, dv!] : [y, lse, dq!, dk!, dv!, dmask];
}

/** The wasm kernels' results. */
function wasm(p: Problem): FloatArray[] {
  const { layout, q, k, v, dy, dlse } = p;
  return evaluate(
    p,
    (y, lse) => wasmAttentionKernels.attentionForward(q, k, v, layout, y, lse),
    (y, lse, dq, dk, dv, dmask) =>
      wasmAttentionKernels.attentionBackward(dy, q, k, v, y, lse, dlse, layout, dq, dk, dv, dmask),
  );
}

/** The js kernel's results, every product on js's GEMM: the reference. */
function js(p: Problem): FloatArray[] {
  const { layout, q, k, v, dy, dlse } = p;
  const gemm = jsMatmulKernels.matmul;
  return evaluate(
    p,
    (y, lse) => jsForward(gemm, q, k, v, layout, y, lse),
    (y, lse, dq, dk, dv, dmask) =>
      jsBackward(gemm, dy, q, k, v, y, lse, dlse, layout, dq, dk, dv, dmask),
  );
}

const NAMES = ["y", "lse", "dq", "dk", "dv", "dmask"];

/**
 * Each result within `rtol` of the largest magnitude of its reference (float32's rounding and
 * another summation order), NaN exactly where the reference has NaN, infinities exactly.
 */
function expectClose(actual: FloatArray[], expected: FloatArray[], rtol = 1e-5): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((want, n) => {
    const got = actual[n]!;
    let scale = 0;
    for (const x of want) if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x));
    for (let i = 0; i < want.length; i++) {
      const what = `${NAMES[n]}[${i}]`;
      if (!Number.isFinite(want[i]!)) expect(got[i], what).toBe(want[i]);
      else expect(Math.abs(got[i]! - want[i]!), what).toBeLessThanOrEqual(rtol * scale);
    }
  });
}

describe.skipIf(!wasmAvailable())("wasm attention kernels", () => {
  // Every float32 call runs in wasm, however small.
  beforeAll(() => {
    wasmTuning.minProductWork = 0;
  });
  afterAll(() => {
    Object.assign(wasmTuning, defaultWasmTuning);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("computes a hand-derived head: y, lse and every gradient", () => {
    // scale 1, q = [1], keys [0] and [ln 3]: s = [0, ln 3], p = [1/4, 3/4], v = [4, 8] gives
    // y = 1 + 6 = 7 and lse = ln 4. With dy = 1, dlse = 0: δ = dy·y = 7, dp = [4, 8],
    // ds = p∘(dp − δ) = [−3/4, 3/4], so dq = ds·k = (3/4)·ln 3, dk = ds·q = [−3/4, 3/4] and
    // dv = pᵀ·dy = [1/4, 3/4] (hand derivation; PyTorch 1.13's softmax(q·kᵀ)·v and
    // logsumexp in float64 give the same: y 7, lse 1.3863, q.grad 0.8240, k.grad [−0.75, 0.75],
    // v.grad [0.25, 0.75]).
    const layout = { ...problem([1], [1, 2, 1, 1], { scale: 1 }).layout };
    const q = Float32Array.of(1);
    const k = Float32Array.of(0, Math.log(3));
    const v = Float32Array.of(4, 8);
    const y = new Float32Array(1);
    const lse = new Float32Array(1);
    wasmAttentionKernels.attentionForward(q, k, v, layout, y, lse);
    expect(y[0]).toBeCloseTo(7, 5);
    expect(lse[0]).toBeCloseTo(Math.log(4), 6);
    const [dq, dk, dv] = [1, 2, 2].map((n) => new Float32Array(n));
    const ones = Float32Array.of(1);
    const dlse = Float32Array.of(0);
    wasmAttentionKernels.attentionBackward(
      ones,
      q,
      k,
      v,
      y,
      lse,
      dlse,
      layout,
      dq!,
      dk!,
      dv!,
      null,
    );
    expect(dq![0]).toBeCloseTo(0.75 * Math.log(3), 5);
    expect(Array.from(dk!)).toEqual([expect.closeTo(-0.75, 5), expect.closeTo(0.75, 5)]);
    expect(Array.from(dv!)).toEqual([expect.closeTo(0.25, 6), expect.closeTo(0.75, 6)]);
  });

  it("runs float32 in wasm without a single matmul call", () => {
    const matmul = vi.spyOn(wasmMatmulKernels, "matmul");
    wasm(problem([2, 3], [6, 9, 5, 4]));
    expect(matmul).not.toHaveBeenCalled();
  });

  const cases: [string, () => Problem][] = [
    ["no mask, Lq < Lk, E ≠ Ev", () => problem([2, 3], [6, 9, 5, 4])],
    ["Lq > Lk, scale given", () => problem([4], [11, 7, 8, 3], { scale: 0.7 })],
    ["causal", () => problem([2, 2], [9, 9, 16, 16], { causal: true })],
    [
      "causal, Lq > Lk (rows past Lk attend to every key)",
      () => problem([3], [10, 6, 4, 4], { causal: true }),
    ],
    ["one large head, E and Ev past a GEMM depth block", () => problem([1], [40, 50, 300, 9])],
  ];
  for (const [name, make] of cases) {
    it(`equals the js kernel: ${name}`, () => {
      const p = make();
      expectClose(wasm(p), js(p));
    });
  }

  it("int32 mask broadcast over heads and rows: a fully masked row gives NaN and lse −∞", () => {
    // [6, 9] broadcast to [2, 3, 6, 9]; row 2 excludes every key (PyTorch 1.13's softmax of a
    // row of −∞ is NaN throughout, as the js kernel gives).
    const keep = Array.from({ length: 6 }, (_, i) =>
      Array.from({ length: 9 }, (_, j) => (i === 2 ? 0 : +((i + j) % 3 !== 0))),
    );
    const mask = tensor(keep, { dtype: "int32" });
    const p = problem([2, 3], [6, 9, 5, 4], {}, mask);
    const [y, lse, dq] = wasm(p);
    for (let h = 0; h < 6; h++) {
      expect(lse![h * 6 + 2]).toBe(-Infinity);
      for (let f = 0; f < 4; f++) expect(y![(h * 6 + 2) * 4 + f]).toBeNaN();
      expect(dq![(h * 6 + 2) * 5]).toBeNaN();
    }
    expectClose(wasm(p), js(p));
  });

  it("float32 mask of shape [3, 1, 9]: added per head, broadcast over rows; its gradient", () => {
    const mask = randomNormal(randomKey(7), [3, 1, 9]);
    const p = problem([2, 3], [6, 9, 5, 4], { causal: true }, mask);
    expectClose(wasm(p), js(p));
  });

  it("float64 mask on float32 operands, one block per head", () => {
    const mask = randomNormal(randomKey(8), [2, 3, 6, 9], { dtype: "float64" });
    const p = problem([2, 3], [6, 9, 5, 4], {}, mask);
    // The mask is added in float32 (js adds it in float64 before rounding the score).
    expectClose(wasm(p), js(p), 1e-4);
  });

  it("float64, dropout and calls below minProductWork go to the js kernel", () => {
    const matmul = vi.spyOn(wasmMatmulKernels, "matmul");
    const p64 = problem([2], [5, 6, 4, 3], {}, undefined, "float64");
    // The same kernel on wasm's float64 GEMM: equal to js's to float64 rounding.
    expectClose(wasm(p64), js(p64), 1e-12);
    expect(matmul).toHaveBeenCalled();
    matmul.mockClear();
    const dropout = { rate: 0.25, key: randomKey(9) };
    const pDrop = problem([2], [5, 6, 4, 3], { dropout });
    expectClose(wasm(pDrop), js(pDrop));
    expect(matmul).toHaveBeenCalled();
    matmul.mockClear();
    wasmTuning.minProductWork = Infinity;
    try {
      wasm(problem([2], [5, 6, 4, 3]));
    } finally {
      wasmTuning.minProductWork = 0;
    }
    expect(matmul).toHaveBeenCalled();
  });

  it("the op on the wasm backend still names a bad mask in its error", () => {
    const previous = getBackend();
    setBackend("wasm");
    const q = randomNormal(randomKey(1), [2, 6, 4]);
    const mask = tensor([1, 0, 1], { dtype: "int32" });
    const error = caught(() => scaledDotProductAttention(q, q, q, { mask }));
    setBackend(previous);
    expect(error.message).toContain("mask of shape [3]");
    expect(error.message).toContain(OP);
  });
});
