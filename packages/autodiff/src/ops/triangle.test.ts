import { describe, expect, it } from "vitest";
import {
  arange,
  checkGrads,
  grad,
  mul,
  reshape,
  sum,
  tensor,
  tril,
  triu,
  vmap,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues } from "../../test/helpers.js";

// [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
const x = reshape(arange(1, 13, 1, "float64"), [3, 4]);

describe("tril and triu", () => {
  it("keep the main diagonal and the triangle below or above it", () => {
    expect(tril(x).toArray()).toEqual([
      [1, 0, 0, 0],
      [5, 6, 0, 0],
      [9, 10, 11, 0],
    ]);
    expect(triu(x).toArray()).toEqual([
      [1, 2, 3, 4],
      [0, 6, 7, 8],
      [0, 0, 11, 12],
    ]);
  });

  it("shift the diagonal by k, as torch.tril/triu's diagonal argument", () => {
    // PyTorch 1.13: torch.tril(x, -1) and torch.triu(x, 1) of x = arange(1, 13).reshape(3, 4).
    expect(tril(x, { k: -1 }).toArray()).toEqual([
      [0, 0, 0, 0],
      [5, 0, 0, 0],
      [9, 10, 0, 0],
    ]);
    expect(triu(x, { k: 1 }).toArray()).toEqual([
      [0, 2, 3, 4],
      [0, 0, 7, 8],
      [0, 0, 0, 12],
    ]);
    // PyTorch 1.13: tril(x, 5) and triu(x, -3) keep everything; tril(x, -3) keeps nothing.
    expect(tril(x, { k: 5 }).toArray()).toEqual(x.toArray());
    expect(triu(x, { k: -3 }).toArray()).toEqual(x.toArray());
    expectValues(tril(x, { k: -3 }), [3, 4], new Array<number>(12).fill(0));
  });

  it("apply to every matrix of a batch, in the last two axes", () => {
    // PyTorch 1.13: torch.triu(torch.arange(1., 9).reshape(2, 2, 2)).
    const batch = reshape(arange(1, 9, 1, "float64"), [2, 2, 2]);
    expect(triu(batch).toArray()).toEqual([
      [
        [1, 2],
        [0, 4],
      ],
      [
        [5, 6],
        [0, 8],
      ],
    ]);
    expect(tril(zeros([2, 0, 3])).shape).toEqual([2, 0, 3]);
  });

  it("zero the dropped elements even where they are NaN or ∞, and keep the dtype", () => {
    const odd = tensor(
      [
        [NaN, Infinity],
        [-Infinity, 2],
      ],
      { dtype: "float64" },
    );
    expectValues(tril(odd), [2, 2], [NaN, 0, -Infinity, 2]);
    const ints = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: "int32" },
    );
    const upper = triu(ints);
    expect(upper.dtype).toBe("int32");
    expect(upper.toArray()).toEqual([
      [1, 2],
      [0, 4],
    ]);
    expect(tril(tensor([[1, 2]], { dtype: "float32" })).dtype).toBe("float32");
  });

  it("pass on the gradient of the kept elements only", () => {
    const w = reshape(arange(1, 13, 1, "float64"), [3, 4]);
    const dx = grad((t: Tensor) => sum(mul(tril(t, { k: 1 }), w)))(x);
    // d/dx Σ w·tril(x) = tril(w), by hand.
    expect(dx.toArray()).toEqual([
      [1, 2, 0, 0],
      [5, 6, 7, 0],
      [9, 10, 11, 12],
    ]);
    checkGrads((t: Tensor) => triu(t, { k: -1 }), [x], { order: 2, modes: ["rev", "fwd"] });
    checkGrads((t: Tensor) => tril(t, { k: 2 }), [reshape(x, [2, 2, 3])], { order: 2 });
  });

  it("map over a batch axis that is one of the matrix axes (vmap)", () => {
    // Mapped over its last axis, a [2, 2, 3] stack is three 2×2 matrices.
    const stack = reshape(arange(0, 12, 1, "float64"), [2, 2, 3]);
    const y = vmap((m: Tensor) => tril(m), { inAxes: [2] })(stack);
    // Slice c is [[s[0,0,c], s[0,1,c]], [s[1,0,c], s[1,1,c]]] with s[i,j,c] = 6i + 3j + c.
    const expected = [0, 1, 2].map((c) => [
      [c, 0],
      [6 + c, 9 + c],
    ]);
    expect(y.toArray()).toEqual(expected);
  });

  it("require rank ≥ 2 and an integer k, naming them", () => {
    expectError(
      () => tril(arange(3)),
      "SHAPE_MISMATCH",
      "tril: x must have at least 2 axes (a matrix or a batch of matrices), got shape [3]",
    );
    expectError(
      () => triu(2),
      "SHAPE_MISMATCH",
      "triu: x must have at least 2 axes (a matrix or a batch of matrices), got shape []",
    );
    // Under vmap the batched input is a matrix, but each slice is a vector.
    expectError(
      () => vmap((row: Tensor) => tril(row))(x),
      "SHAPE_MISMATCH",
      "tril: x must have at least 2 axes (a matrix or a batch of matrices), got shape [4]",
    );
    expectError(
      () => triu(x, { k: 0.5 }),
      "INVALID_ARGUMENT",
      "triu: k must be an integer, got 0.5",
    );
    expectError(
      () => tril(x, { k: NaN }),
      "INVALID_ARGUMENT",
      "tril: k must be an integer, got NaN",
    );
  });
});
