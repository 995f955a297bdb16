import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkGrads,
  getOp,
  grad,
  matmul,
  mul,
  prng,
  square,
  sum,
  tensor,
  transpose,
  type Tensor,
} from "../index.js";
import { arbitraries, checkOpGradients } from "../testing/index.js";
import { expectError, f64 } from "../../test/helpers.js";

const rng = prng(11);
const normal = (shape: number[]) => rng.normal(shape, { dtype: "float64" });

/**
 * NumPy's matmul written out index by index, independently of the op: 1-D operands become a
 * row (a) or column (b) whose axis is dropped from the result; batch axes broadcast.
 */
type Expected = { shape: number[]; values: number[] };

function reference(a: Tensor, b: Tensor, transA = false, transB = false): Expected {
  const as = a.ndim === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bs = b.ndim === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [ar, ac] = as.slice(-2) as [number, number];
  const [br, bc] = bs.slice(-2) as [number, number];
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const n = transB ? br : bc;
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(aBatch), pad(bBatch)];
  const batch = pa.map((d, i) => Math.max(d, pb[i]!));
  const count = batch.reduce((x, y) => x * y, 1);
  const values: number[] = [];
  const flatIndex = (own: number[], index: number[]) =>
    own.reduce((acc, d, i) => acc * d + (d === 1 ? 0 : index[i]!), 0);
  const [aValues, bValues] = [a.data, b.data];
  for (let e = 0; e < count; e++) {
    const index: number[] = [];
    for (let rest = e, i = rank - 1; i >= 0; i--) {
      index.unshift(rest % batch[i]!);
      rest = Math.floor(rest / batch[i]!);
    }
    const ao = flatIndex(pa, index) * m * k;
    const bo = flatIndex(pb, index) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const av = aValues[ao + (transA ? p * m + i : i * k + p)]!;
          acc += av * bValues[bo + (transB ? j * k + p : p * n + j)]!;
        }
        values.push(acc);
      }
    }
  }
  const shape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  return { shape, values };
}

function expectMatches(y: Tensor, want: Expected, digits = 12): void {
  expect(y.shape).toEqual(want.shape);
  expect(y.size).toBe(want.values.length);
  const got = y.data;
  want.values.forEach((v, i) => expect(got[i]).toBeCloseTo(v, digits));
}

describe("matmul values and shapes", () => {
  const a = f64([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = f64([
    [7, 8],
    [9, 10],
    [11, 12],
  ]);

  it("multiplies matrices", () => {
    const y = matmul(a, b);
    expect(y.shape).toEqual([2, 2]);
    expect(y.toArray()).toEqual([
      [58, 64],
      [139, 154],
    ]);
  });

  it("treats a 1-D a as a row and a 1-D b as a column, dropping that axis", () => {
    expect(matmul(f64([1, 2]), a).toArray()).toEqual([9, 12, 15]);
    expect(matmul(a, f64([1, 0, -1])).toArray()).toEqual([-2, -2]);
    const dot = matmul(f64([1, 2, 3]), f64([4, 5, 6]));
    expect(dot.shape).toEqual([]);
    expect(dot.item()).toBe(32);
    // A vector against a batch of matrices broadcasts like a matrix without batch axes.
    const row = f64([1, 2, 3]);
    const batch = normal([2, 3, 4]);
    expect(matmul(row, batch).shape).toEqual([2, 4]);
    expectMatches(matmul(row, batch), reference(row, batch));
    const stack = normal([2, 5, 3]);
    const v = f64([1, -1, 2]);
    expect(matmul(stack, v).shape).toEqual([2, 5]);
    expectMatches(matmul(stack, v), reference(stack, v));
  });

  it("broadcasts batch axes: [2,1,3,4] @ [5,4,6] → [2,5,3,6], and a matrix against a stack", () => {
    const x = normal([2, 1, 3, 4]);
    const w = normal([5, 4, 6]);
    expectMatches(matmul(x, w), reference(x, w));
    expect(matmul(x, w).shape).toEqual([2, 5, 3, 6]);
    const m = normal([3, 4]);
    expectMatches(matmul(m, w), reference(m, w));
    const stack = normal([7, 2, 6]);
    const shared = normal([6, 3]);
    expectMatches(matmul(stack, shared), reference(stack, shared));
    const unit = normal([1, 1, 2, 6]);
    expect(matmul(unit, shared).shape).toEqual([1, 1, 2, 3]);
    expectMatches(matmul(unit, stack, { transB: true }), reference(unit, stack, false, true));
    // Large enough for the kernel's cache-blocked path, with edge tiles in every direction.
    const big = normal([3, 1, 17, 19]);
    const other = normal([2, 21, 19]);
    expectMatches(matmul(big, other, { transB: true }), reference(big, other, false, true), 10);
  });

  it("matches the index-by-index reference for random shapes, vectors and transposes", () => {
    const sample = getOp("matmul")!.definition.samples!(arbitraries);
    fc.assert(
      fc.property(sample, ({ inputs: [x, y], attrs }) => {
        const { transA = false, transB = false } = attrs as { transA?: boolean; transB?: boolean };
        expectMatches(matmul(x!, y!, { transA, transB }), reference(x!, y!, transA, transB));
      }),
      { numRuns: 300 },
    );
  });

  it("transA and transB multiply by the transposed last two axes without changing the rest", () => {
    const x = normal([2, 4, 3]);
    const w = normal([5, 4]);
    const xt = transpose(x, [0, 2, 1]);
    expectMatches(matmul(x, w, { transA: true, transB: true }), reference(xt, transpose(w)));
    expectMatches(matmul(xt, w, { transB: true }), reference(xt, transpose(w)));
    const y = normal([2, 3, 6]);
    expectMatches(matmul(x, y, { transA: false }), reference(x, y));
  });

  it("handles empty axes: k = 0 gives zeros, m = 0 or an empty batch an empty result", () => {
    const zerosK = matmul(tensor([], { shape: [2, 0] }), tensor([], { shape: [0, 3] }));
    expect(zerosK.shape).toEqual([2, 3]);
    expect(Array.from(zerosK.data)).toEqual([0, 0, 0, 0, 0, 0]);
    const w = tensor(new Float32Array(8), { shape: [4, 2] });
    expect(matmul(tensor([], { shape: [0, 4] }), w).shape).toEqual([0, 2]);
    expect(matmul(tensor([], { shape: [0, 2, 4] }), w).shape).toEqual([0, 2, 2]);
  });
});

describe("matmul dtypes", () => {
  const i32 = (values: number[][]) => tensor(values, { dtype: "int32" });

  it("keeps float32 and float64, promotes mixed floats to float64", () => {
    const x32 = tensor([[1, 2]], { dtype: "float32" });
    const y32 = tensor([[3], [4]], { dtype: "float32" });
    expect(matmul(x32, y32).dtype).toBe("float32");
    expect(matmul(x32, tensor([[3], [4]], { dtype: "float64" })).dtype).toBe("float64");
    expect(matmul(f64([[1, 2]]), y32).toArray()).toEqual([[11]]);
  });

  it("computes int32 operands in float32, or float64 next to a float64", () => {
    const y = matmul(
      i32([
        [1, 2],
        [3, 4],
      ]),
      i32([[5], [6]]),
    );
    expect(y.dtype).toBe("float32");
    expect(y.toArray()).toEqual([[17], [39]]);
    expect(matmul(i32([[1, 2]]), f64([[0.5], [0.25]])).dtype).toBe("float64");
    expect(matmul(i32([[1, 2]]), f64([[0.5], [0.25]])).item()).toBe(1);
  });

  it("rounds a float32 product like float32 data, not like float64 data", () => {
    const x = tensor([[1 / 3, 1 / 7]], { dtype: "float32" });
    const y = tensor([[3], [7]], { dtype: "float32" });
    expect(matmul(x, y).item()).toBe(Math.fround(Math.fround(1 / 3) * 3 + Math.fround(1 / 7) * 7));
  });
});

describe("matmul errors", () => {
  const m23 = f64([
    [1, 2, 3],
    [4, 5, 6],
  ]);

  it("name both shapes when the inner dimensions differ, with any transposes", () => {
    const m45 = tensor(new Float64Array(20), { shape: [4, 5] });
    const inner = "matmul: inner dimensions differ:";
    expectError(() => matmul(m23, m45), "SHAPE_MISMATCH", `${inner} a is [2,3], b is [4,5]`);
    expectError(
      () => matmul(m23, m45, { transA: true, transB: true }),
      "SHAPE_MISMATCH",
      `${inner} a is [2,3] (transA), b is [4,5] (transB)`,
    );
    const v2 = f64([1, 2]);
    expectError(() => matmul(v2, f64([1, 2, 3])), "SHAPE_MISMATCH", `${inner} a is [2], b is [3]`);
    expectError(() => matmul(m23, v2), "SHAPE_MISMATCH", `${inner} a is [2,3], b is [2]`);
  });

  it("reject batch axes that do not broadcast", () => {
    expectError(
      () => matmul(normal([2, 3, 4]), normal([3, 4, 5])),
      "SHAPE_MISMATCH",
      "matmul: batch dimensions cannot be broadcast together: a is [2,3,4], b is [3,4,5]",
    );
  });

  it("reject scalars, transposed vectors and non-boolean flags", () => {
    const scalar = tensor(1, { dtype: "float64" });
    const notMatrix = (name: string) => `matmul: ${name} must be at least 1-D, got shape []`;
    expectError(() => matmul(2, m23), "SHAPE_MISMATCH", notMatrix("a"));
    expectError(() => matmul(m23, scalar), "SHAPE_MISMATCH", notMatrix("b"));
    expectError(
      () => matmul(f64([1, 2]), m23, { transA: true }),
      "INVALID_ARGUMENT",
      "matmul: transA needs a of rank 2 or more, got shape [2]",
    );
    expectError(
      () => matmul(m23, f64([1, 2, 3]), { transB: true }),
      "INVALID_ARGUMENT",
      "matmul: transB needs b of rank 2 or more, got shape [3]",
    );
    expectError(
      // Untyped callers (the registry's apply takes any attrs) can pass anything.
      () => getOp("matmul")!.apply([m23, m23], { transB: 1 }),
      "INVALID_ARGUMENT",
      "matmul: transA and transB must be booleans, got false and 1",
    );
  });
});

describe("matmul gradients", () => {
  const tight = { atol: 1e-7, rtol: 1e-6 };

  it("agree with finite differences on generated samples (vectors, batches, transposes)", () => {
    checkOpGradients(getOp("matmul")!, { numRuns: 200, seed: 3 });
  });

  it("sum broadcast batch axes back, also when a batch of A shares one B (the folded case)", () => {
    const plain = (x: Tensor, w: Tensor) => matmul(x, w);
    const transB = (x: Tensor, w: Tensor) => matmul(x, w, { transB: true });
    checkGrads(plain, [normal([3, 2, 4]), normal([4, 5])], tight);
    checkGrads(transB, [normal([3, 2, 4]), normal([5, 4])], tight);
    checkGrads(plain, [normal([2, 1, 3, 4]), normal([5, 4, 6])], tight);
    checkGrads(plain, [normal([3, 4]), normal([2, 4, 2])], tight);
    checkGrads(plain, [normal([4]), normal([2, 4, 3])], tight);
  });

  it("give the documented closed forms dA = dy·Bᵀ and dB = Aᵀ·dy", () => {
    const a = normal([3, 4]);
    const b = normal([4, 2]);
    const dy = normal([3, 2]);
    const loss = (x: Tensor, y: Tensor) => sum(mul(matmul(x, y), dy));
    const [da, db] = grad(loss, { argnums: [0, 1] })(a, b);
    expectMatches(da, reference(dy, b, false, true));
    expectMatches(db, reference(a, dy, true, false));
  });

  it("return float32 gradients for float32 operands next to float64 ones", () => {
    const a = tensor([[1, 2]], { dtype: "float32" });
    const da = grad((x: Tensor) => sum(matmul(x, f64([[1], [2]]))))(a);
    expect(da.dtype).toBe("float32");
    expect(da.toArray()).toEqual([[1, 2]]);
  });

  it("can be differentiated again (second order through every transpose combination)", () => {
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const attrs = { transA, transB };
      const a = normal(transA ? [2, 4, 3] : [2, 3, 4]);
      const b = normal(transB ? [5, 4] : [4, 5]);
      // f = Σ matmul(a, b)²; its gradient in a is again a matmul of a and b, so differentiate that.
      const gradA = grad((x: Tensor, y: Tensor) => sum(square(matmul(x, y, attrs))));
      checkGrads((x: Tensor, y: Tensor) => gradA(x, y), [a, b], tight);
    }
  });
});
