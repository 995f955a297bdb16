import { describe, expect, it } from "vitest";
import {
  TapegradError,
  arange,
  broadcastTo,
  einsum,
  getOp,
  grad,
  matmul,
  mul,
  reshape,
  stack,
  sum,
  tensor,
  transpose,
  vmap,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";

const f64 = (values: number[] | number[][] | number[][][]) => tensor(values, { dtype: "float64" });
const range = (shape: number[], scale = 1) =>
  reshape(
    mul(
      arange(
        0,
        shape.reduce((a, b) => a * b, 1),
        1,
        "float64",
      ),
      scale,
    ),
    shape,
  );

/** Element by element within 1e-12 of `expected` (sums of a few float64 products). */
function expectClose(actual: Tensor, expected: Tensor): void {
  expect(actual.shape).toEqual(expected.shape);
  const e = expected.data;
  actual.data.forEach((v, i) => expect(Math.abs(v - e[i]!)).toBeLessThanOrEqual(1e-12));
}

function errorOf(f: () => unknown): TapegradError {
  try {
    f();
  } catch (e) {
    if (e instanceof TapegradError) return e;
    throw e;
  }
  throw new Error("expected a TapegradError");
}

const a = f64([
  [1, 2, 3],
  [4, 5, 6],
]);
const b = f64([
  [1, 0],
  [0, 1],
  [1, 1],
]);

describe("einsum against hand values and compositions of ops", () => {
  it("ij,jk->ik is matmul: [[1,2,3],[4,5,6]]·[[1,0],[0,1],[1,1]] = [[4,5],[10,11]] by hand", () => {
    expect(einsum("ij,jk->ik", a, b).toArray()).toEqual([
      [4, 5],
      [10, 11],
    ]);
    expectClose(einsum("ij,jk->ik", a, b), matmul(a, b));
  });

  it("implicit output: the letters used once, sorted, capitals first (PyTorch 'aB' -> 'Ba')", () => {
    expectClose(einsum("ij,jk", a, b), matmul(a, b));
    // torch.einsum('aB', [[1,2,3],[4,5,6]]) = [[1,4],[2,5],[3,6]] (PyTorch 1.13).
    expect(einsum("aB", a).toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(einsum("ba", a).toArray()).toEqual(transpose(a).toArray());
    expect(einsum("ab", a).toArray()).toEqual(a.toArray());
  });

  it("sums, transposes, outer and inner products", () => {
    expect(einsum("ij->", a).item()).toBe(21);
    // torch.einsum('ij->j', [[1,2,3],[4,5,6]]) = [5,7,9]; 'ij,ij' = 91 (PyTorch 1.13).
    expect(einsum("ij->j", a).toArray()).toEqual([5, 7, 9]);
    expect(einsum("ij,ij", a, a).item()).toBe(91);
    expect(einsum("ij->ji", a).toArray()).toEqual(transpose(a).toArray());
    expect(einsum("i,j->ij", f64([1, 2]), f64([3, 4, 5])).toArray()).toEqual([
      [3, 4, 5],
      [6, 8, 10],
    ]);
    expect(einsum("i,i->", f64([1, 2, 3]), f64([4, 5, 6])).item()).toBe(32);
    // A scalar operand has empty subscripts.
    expect(einsum(",ij->ij", tensor(2, { dtype: "float64" }), a).toArray()).toEqual(
      mul(a, 2).toArray(),
    );
  });

  it("attention scores bhqd,bhkd->bhqk equal q·kᵀ over the batch and head axes", () => {
    const q = range([2, 3, 4, 5], 0.1);
    const k = range([2, 3, 6, 5], -0.05);
    expectClose(einsum("bhqd,bhkd->bhqk", q, k), matmul(q, transpose(k, [0, 1, 3, 2])));
    // PyTorch 1.13 (float32) gives 0.31, 0.22, 1.30, 0.94, 1.03, 0.40, 1.48, 0.58 for
    // q = arange(12).reshape(1,2,2,3)/10, k = arange(12,0,-1).reshape(1,2,2,3)/10: each a sum of
    // three products of tenths, which those decimals are exactly.
    const q1 = range([1, 2, 2, 3], 0.1);
    const k1 = reshape(mul(arange(12, 0, -1, "float64"), 0.1), [1, 2, 2, 3]);
    const expected = [0.31, 0.22, 1.3, 0.94, 1.03, 0.4, 1.48, 0.58];
    expectClose(
      einsum("bhqd,bhkd->bhqk", q1, k1),
      tensor(expected, { dtype: "float64", shape: [1, 2, 2, 2] }),
    );
  });

  it("'...' broadcasts leading batch axes: ...ij,...jk->...ik with [1,2,3] and [2,3,4]", () => {
    const x = range([1, 2, 3]);
    const y = range([2, 3, 4]);
    // torch.einsum('...ij,...jk->...ik', arange(6).reshape(1,2,3), arange(24).reshape(2,3,4))
    // (PyTorch 1.13).
    expect(einsum("...ij,...jk->...ik", x, y).toArray()).toEqual([
      [
        [20, 23, 26, 29],
        [56, 68, 80, 92],
      ],
      [
        [56, 59, 62, 65],
        [200, 212, 224, 236],
      ],
    ]);
    expectClose(einsum("...ij,...jk->...ik", x, y), matmul(x, y));
    // Implicit: '...' first, then the letters used once.
    expectClose(einsum("...ij,...jk", x, y), matmul(x, y));
    // A missing '...' in an explicit output sums those axes, as PyTorch does.
    expectClose(einsum("...ij->ij", y), sum(y, { axis: 0 }));
    expectClose(einsum("i...->...i", range([2, 3, 4])), transpose(range([2, 3, 4]), [1, 2, 0]));
  });

  it("three operands contract left to right: ij,jk,kl->il = (A·B)·C", () => {
    const c = f64([
      [1, 2],
      [3, 4],
    ]);
    // (A·B)·C = [[4,5],[10,11]]·[[1,2],[3,4]] = [[19,28],[43,64]] by hand.
    expect(einsum("ij,jk,kl->il", a, b, c).toArray()).toEqual([
      [19, 28],
      [43, 64],
    ]);
    // The middle operand's own index k is summed before the product.
    expectClose(einsum("ij,k,jl->il", a, f64([1, 2]), b), mul(matmul(a, b), 3));
  });

  it("repeated letters take diagonals: ii-> is the trace, ii->i the diagonal", () => {
    const s = f64([
      [1, 2],
      [3, 4],
    ]);
    expect(einsum("ii->", s).item()).toBe(5);
    expect(einsum("ii", s).item()).toBe(5);
    expect(einsum("ii->i", s).toArray()).toEqual([1, 4]);
    // torch.einsum('iij->j', arange(12).reshape(2,2,3)) = [9,11,13] (PyTorch 1.13).
    expect(einsum("iij->j", range([2, 2, 3])).toArray()).toEqual([9, 11, 13]);
    expect(
      einsum(
        "ij,jj->i",
        a,
        f64([
          [1, 9, 9],
          [9, 2, 9],
          [9, 9, 3],
        ]),
      ).toArray(),
    ).toEqual([14, 32]);
  });

  it("float32 stays float32, float64 wins, int32 computes in float32 (as matmul)", () => {
    const a32 = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(einsum("ij,jk", a32, a32).dtype).toBe("float32");
    expect(einsum("ij,jk", a32, f64([[1], [1]])).dtype).toBe("float64");
    const ints = tensor([1, 2, 3], { dtype: "int32" });
    const dot = einsum("i,i", ints, ints);
    expect(dot.dtype).toBe("float32");
    expect(dot.item()).toBe(14);
    expect(einsum("i->", ints).dtype).toBe("float32");
  });

  it("takes empty axes: a sum over nothing is 0", () => {
    expect(einsum("ij,jk->ik", range([2, 0]), range([0, 3])).toArray()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(einsum("ij->i", range([0, 3])).shape).toEqual([0]);
  });
});

describe("einsum's gradient", () => {
  it("d/dA of ⟨dy, A·W⟩ is dy·Wᵀ (PyTorch 1.13: [[-1,2,6],[-1,6,12]])", () => {
    const w = f64([
      [1, -1],
      [2, 0],
      [0, 3],
    ]);
    const dy = f64([
      [1, 2],
      [3, 4],
    ]);
    const dx = grad((x: Tensor) => sum(mul(einsum("ij,jk->ik", x, w), dy)))(a);
    expect(dx.toArray()).toEqual([
      [-1, 2, 6],
      [-1, 6, 12],
    ]);
  });

  it("an index summed within one operand gets dy broadcast along it", () => {
    // d/dx Σ_ij x_ij·v_i = v_i for every j.
    const v = f64([2, 3]);
    const dx = grad((x: Tensor) => einsum("ij,i->", x, v))(a);
    expect(dx.toArray()).toEqual([
      [2, 2, 2],
      [3, 3, 3],
    ]);
  });

  it("a '...' axis of size 1 that broadcast gets its gradient summed", () => {
    const x = range([1, 2, 3], 0.1);
    const y = range([4, 3, 2], 0.2);
    const dx = grad((x: Tensor) => sum(einsum("...ij,...jk->...ik", x, y)))(x);
    const expected = grad((x: Tensor) => sum(matmul(broadcastTo(x, [4, 2, 3]), y)))(x);
    expectClose(dx, expected);
  });

  it("the diagonal's gradient is dy on the diagonal, zero off it", () => {
    const s = f64([
      [1, 2],
      [3, 4],
    ]);
    expect(grad((s: Tensor) => einsum("ii->", s))(s).toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it("first and second derivatives match finite differences for each kind of equation", () => {
    const cases: [string, Tensor[]][] = [
      ["ij,jk->ik", [range([2, 3], 0.3), range([3, 2], -0.2)]],
      ["bhqd,bhkd->bhqk", [range([1, 2, 2, 3], 0.1), range([1, 2, 3, 3], 0.05)]],
      ["...ij,...jk", [range([1, 2, 2], 0.2), range([3, 2, 2], 0.1)]],
      ["ij,jk,kl->il", [range([2, 2], 0.5), range([2, 3], 0.1), range([3, 2], -0.3)]],
      ["ii->i", [range([3, 3], 0.1)]],
      ["ij,i->j", [range([2, 3], 0.1), range([2], 1)]],
    ];
    for (const [equation, inputs] of cases) {
      const report = checkGrads((...xs: Tensor[]) => einsum(equation, ...xs), inputs, {
        order: 2,
        modes: ["rev", "fwd"],
        name: equation,
      });
      expect(report.checked).toBeGreaterThan(0);
    }
  });
});

describe("einsum under vmap", () => {
  it("a fresh letter names the batch axis, wherever each operand has it", () => {
    const xs = range([3, 2, 4], 0.1);
    const w = range([4, 2], -0.2);
    const mapped = vmap((x: Tensor) => einsum("ij,jk->ik", x, w))(xs);
    expectClose(mapped, stack([0, 1, 2].map((i) => matmul(slice3(xs, i), w))));
    // Both mapped, one along its last axis; an implicit output with '...'.
    const ys = range([4, 2, 3], 0.3);
    const both = vmap((x: Tensor, y: Tensor) => einsum("...j,jk", x, y), { inAxes: [0, 2] })(
      xs,
      ys,
    );
    const slices = [0, 1, 2].map((i) => matmul(slice3(xs, i), slice3(transpose(ys, [2, 0, 1]), i)));
    expectClose(both, stack(slices));
  });
});

/** x[i] of a [n, …] tensor, as an einsum-free reference. */
function slice3(x: Tensor, i: number): Tensor {
  const rows = x.shape.slice(1);
  const flat = Array.from(x.data).slice(
    i * rows.reduce((p, d) => p * d, 1),
    (i + 1) * rows.reduce((p, d) => p * d, 1),
  );
  return tensor(flat, { dtype: x.dtype, shape: rows });
}

describe("einsum's errors name the operand, the index and both sizes", () => {
  it("subscripts that do not fit an operand's rank", () => {
    const e = errorOf(() => einsum("ijk,jk", a, b));
    expect(e.code).toBe("SHAPE_MISMATCH");
    expect(e.message).toBe(
      'einsum: operand 0 has shape [2,3] (rank 2), but its subscripts "ijk" name 3 axes',
    );
    expect(errorOf(() => einsum("...ijk", a)).message).toMatch(/name at least 3 axes/);
  });

  it("one letter with two sizes", () => {
    const e = errorOf(() => einsum("ij,jk->ik", a, a));
    expect(e.code).toBe("SHAPE_MISMATCH");
    expect(e.message).toBe(
      "einsum: index 'j' has size 3 in operand 0 (shape [2,3]) but size 2 in operand 1 " +
        "(shape [2,3])",
    );
    expect(errorOf(() => einsum("ii", a)).message).toMatch(
      /^einsum: index 'i' names axes of sizes 2 and 3 in operand 0 \(shape \[2,3\]\)/,
    );
    expect(errorOf(() => einsum("...i,...i", range([2, 3]), range([4, 3]))).message).toMatch(
      /^einsum: the axes under '...' do not broadcast: operand 0 has shape \[2,3\] and operand 1/,
    );
  });

  it("unknown characters, a bad arrow, two ellipses, a bad output", () => {
    const e = errorOf(() => einsum("ij,j2->i", a, b));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toBe(
      "einsum: unknown character '2' at position 4 of \"ij,j2->i\": subscripts are the letters " +
        "a–z and A–Z, '...', ',' and '->'",
    );
    expect(errorOf(() => einsum("ij->i->j", a)).message).toMatch(/more than one '->'/);
    expect(errorOf(() => einsum("...i...", a)).message).toMatch(/more than one '...'/);
    expect(errorOf(() => einsum("ij->ik", a)).message).toBe(
      "einsum: output index 'k' of \"ik\" appears in no operand's subscripts",
    );
    expect(errorOf(() => einsum("ij->ii", a)).message).toBe(
      "einsum: output index 'i' appears more than once in \"ii\"",
    );
  });

  it("the wrong number of operands, or an equation that is not a string", () => {
    expect(errorOf(() => einsum("ij,jk->ik", a)).message).toBe(
      'einsum: the equation has 2 operand terms ("ij,jk") but 1 operands were given',
    );
    expect(errorOf(() => einsum("")).message).toBe(
      "einsum: expected at least one operand, got none",
    );
    expect(errorOf(() => einsum(3 as unknown as string, a)).message).toBe(
      'einsum: equation must be a string such as "ij,jk->ik", got 3',
    );
  });

  it("the registered op takes no diagonals; the function takes them first", () => {
    expect(() => getOp("einsum")!.apply([a], { equation: "ii" })).toThrow(
      /einsum: operand 0's subscripts "ii" repeat 'i'/,
    );
  });
});
