import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FloatArray } from "../dtype.js";
import { gemmBlocked, gemmDirect, jsMatmulKernels } from "./matmul.js";

type Layout = { readonly transA: boolean; readonly transB: boolean };
type ArrayType = Float32ArrayConstructor | Float64ArrayConstructor;
type Reference = { readonly c: Float64Array; readonly magnitude: Float64Array };

/**
 * Reference C[b] += op(A[b])·op(B[b]) summed in float64 in the textbook i-p-j order. It also
 * returns Σ|products| per element, which bounds the rounding error of any summation order.
 */
function reference(
  a: FloatArray,
  aOffsets: readonly number[],
  b: FloatArray,
  bOffsets: readonly number[],
  m: number,
  k: number,
  n: number,
  { transA, transB }: Layout,
): Reference {
  const c = new Float64Array(aOffsets.length * m * n);
  const magnitude = new Float64Array(c.length);
  aOffsets.forEach((ao, batch) => {
    const bo = bOffsets[batch]!;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a[ao + (transA ? p * m + i : i * k + p)]!;
        for (let j = 0; j < n; j++) {
          const product = av * b[bo + (transB ? j * k + p : p * n + j)]!;
          c[batch * m * n + i * n + j] += product;
          magnitude[batch * m * n + i * n + j] += Math.abs(product);
        }
      }
    }
  });
  return { c, magnitude };
}

/** Deterministic values in [−1, 1) (a tiny LCG), so large cases need no generated arrays. */
function filled(Type: ArrayType, size: number, seed: number): FloatArray {
  const out = new Type(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Checks `c` (which started as `start`) against start + reference, within the rounding error of
 * the result's type: unit roundoff × (k + 2) × Σ|products|, plus the rounding of the result.
 */
function expectProduct(c: FloatArray, start: FloatArray, ref: Reference, k: number): void {
  const unit = c instanceof Float32Array ? 2 ** -24 : 2 ** -53;
  expect(c.length).toBe(ref.c.length);
  for (let i = 0; i < c.length; i++) {
    const want = start[i]! + ref.c[i]!;
    const bound = unit * ((k + 2) * (ref.magnitude[i]! + Math.abs(start[i]!)) + Math.abs(want));
    if (!(Math.abs(c[i]! - want) <= bound)) {
      expect.fail(`element ${i}: got ${c[i]}, want ${want} (bound ${bound})`);
    }
  }
}

const dims = (max: number) => fc.integer({ min: 0, max });
const layout = fc.record({ transA: fc.boolean(), transB: fc.boolean() });
const arrayType = fc.constantFrom<ArrayType>(Float32Array, Float64Array);

describe("gemmBlocked and gemmDirect", () => {
  // Sizes up to 21 give every remainder of the 4×4 tile; offsets check the kernels stay inside.
  const cases = fc.record({
    m: dims(21),
    k: dims(21),
    n: dims(21),
    layout,
    Type: arrayType,
    seed: fc.nat(),
    offsets: fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 5 }), fc.nat({ max: 5 })),
  });

  for (const [name, gemm] of [
    ["gemmBlocked", gemmBlocked],
    ["gemmDirect", gemmDirect],
  ] as const) {
    it(`${name} adds op(A)·op(B) into C for every layout, edge tile and offset`, () => {
      fc.assert(
        fc.property(cases, ({ m, k, n, layout: l, Type, seed, offsets: [ao, bo, co] }) => {
          const a = filled(Type, ao + m * k, seed);
          const b = filled(Type, bo + k * n, seed + 1);
          const start = filled(Type, co + m * n, seed + 2);
          const c = Type.from(start);
          gemm(a, ao, b, bo, c, co, m, k, n, l.transA, l.transB);
          const ref = reference(a, [ao], b, [bo], m, k, n, l);
          expectProduct(c.subarray(co), start.subarray(co), ref, k);
          // Nothing before the product's offset is touched.
          expect(Array.from(c.subarray(0, co))).toEqual(Array.from(start.subarray(0, co)));
        }),
        { numRuns: 300 },
      );
    });
  }

  it("gemmBlocked crosses every cache block: k > KC, m > MC, n > NC, with edge tiles", () => {
    for (const [m, k, n] of [
      [67, 300, 9],
      [5, 513, 6],
      [9, 7, 530],
      [70, 258, 519],
    ] as const) {
      for (const Type of [Float32Array, Float64Array]) {
        for (const l of [
          { transA: false, transB: false },
          { transA: true, transB: true },
        ]) {
          const a = filled(Type, m * k, m);
          const b = filled(Type, k * n, n);
          const c = new Type(m * n);
          gemmBlocked(a, 0, b, 0, c, 0, m, k, n, l.transA, l.transB);
          expectProduct(c, new Type(m * n), reference(a, [0], b, [0], m, k, n, l), k);
        }
      }
    }
  });
});

describe("the js matmul kernel", () => {
  it("handles batches with broadcast (shared) offsets, including the folded case", () => {
    const shapes = fc.record({
      batches: fc.integer({ min: 0, max: 4 }),
      // Up to 24: products above the kernel's small-product cutoff take the blocked path.
      m: dims(24),
      k: dims(24),
      n: dims(24),
      layout,
      Type: arrayType,
      seed: fc.nat(),
      // 0: A and B both batched; 1: one B shared (foldable unless transA); 2: one A shared.
      sharing: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(shapes, ({ batches, m, k, n, layout: l, Type, seed, sharing }) => {
        const aCount = sharing === 2 ? 1 : batches;
        const bCount = sharing === 1 ? 1 : batches;
        const a = filled(Type, aCount * m * k, seed);
        const b = filled(Type, bCount * k * n, seed + 1);
        const aOffsets = Array.from({ length: batches }, (_, i) => (sharing === 2 ? 0 : i * m * k));
        const bOffsets = Array.from({ length: batches }, (_, i) => (sharing === 1 ? 0 : i * k * n));
        const c = new Type(batches * m * n);
        jsMatmulKernels.matmul(a, aOffsets, b, bOffsets, c, m, k, n, l.transA, l.transB);
        expectProduct(c, new Type(c.length), reference(a, aOffsets, b, bOffsets, m, k, n, l), k);
      }),
      { numRuns: 300 },
    );
  });

  it("gives float32 results within float32 rounding of the float64 product at 128×200×96", () => {
    const [m, k, n] = [128, 200, 96];
    const a = filled(Float32Array, m * k, 1);
    const b = filled(Float32Array, k * n, 2);
    const c = new Float32Array(m * n);
    jsMatmulKernels.matmul(a, [0], b, [0], c, m, k, n, false, false);
    const ref = reference(a, [0], b, [0], m, k, n, { transA: false, transB: false });
    expectProduct(c, new Float32Array(m * n), ref, k);
  });

  it("writes zeros over whatever C held when k is 0 (an empty sum), and propagates NaN", () => {
    const c = Float64Array.from([1, NaN, 3, 4]);
    const { matmul } = jsMatmulKernels;
    matmul(new Float64Array(0), [0], new Float64Array(0), [0], c, 2, 0, 2, false, false);
    expect(Array.from(c)).toEqual([0, 0, 0, 0]);
    // A NaN in op(A) row 0 reaches exactly row 0 of C, also through the blocked path's padding.
    const [m, k, n] = [22, 21, 23];
    const a = filled(Float64Array, m * k, 3);
    a[5] = NaN;
    const out = new Float64Array(m * n);
    jsMatmulKernels.matmul(a, [0], filled(Float64Array, k * n, 4), [0], out, m, k, n, false, false);
    expect(out.slice(0, n).every(Number.isNaN)).toBe(true);
    expect(out.slice(n).some(Number.isNaN)).toBe(false);
  });
});
