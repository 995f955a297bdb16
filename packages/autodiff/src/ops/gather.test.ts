import { describe, expect, it } from "vitest";
import {
  gather,
  grad,
  mul,
  oneHot,
  scatterAdd,
  sum,
  tensor,
  TapegradError,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";

const x = tensor([
  [1, 2, 3],
  [4, 5, 6],
]);
const idx = (values: number[] | number[][]) => tensor(values, { dtype: "int32" });

describe("gather", () => {
  it("takes rows along axis 0 by default", () => {
    expect(gather(x, idx([1, 0, 1])).toArray()).toEqual([
      [4, 5, 6],
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("takes columns along axis 1 or -1 with negative indices", () => {
    const expected = [
      [3, 1],
      [6, 4],
    ];
    expect(gather(x, idx([-1, 0]), 1).toArray()).toEqual(expected);
    expect(gather(x, [2, -3], -1).toArray()).toEqual(expected);
  });

  it("puts the indices' shape in place of the axis", () => {
    const y = gather(x, idx([[2], [1]]), 1);
    expect(y.shape).toEqual([2, 2, 1]);
    expect(y.toArray()).toEqual([
      [[3], [2]],
      [[6], [5]],
    ]);
    // A scalar index removes the axis, as x[:, 1] would.
    const column = gather(x, 1, 1);
    expect(column.shape).toEqual([2]);
    expect(column.toArray()).toEqual([2, 5]);
    expect(gather(x, [], 0).shape).toEqual([0, 3]);
  });

  it("is an embedding lookup for a table and a batch of token ids", () => {
    const table = tensor([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    const y = gather(
      table,
      idx([
        [0, 2],
        [1, 1],
      ]),
    );
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.data)).toEqual([0, 0, 2, 2, 1, 1, 1, 1]);
  });

  it("rejects out-of-range indices naming the index and the bound", () => {
    expect(() => gather(x, idx([0, 2]))).toThrow(
      "gather: indices[1] = 2 is out of range for axis 0 of x (shape [2,3]); " +
        "expected -2 ≤ index < 2",
    );
    expect(() => gather(x, idx([[0], [-4]]), 1)).toThrow(
      "gather: indices[1,0] = -4 is out of range for axis 1 of x (shape [2,3]); " +
        "expected -3 ≤ index < 3",
    );
    expect(() => gather(x, 5, 1)).toThrow("gather: indices = 5 is out of range");
    expect(() => gather(x, [9])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => gather(x, [9])).toThrow(TapegradError);
  });

  it("rejects float indices, fractional numbers, scalars and bad axes", () => {
    expect(() => gather(x, tensor([0]))).toThrow("gather: indices must be int32, got float32");
    expect(() => gather(x, [0.5])).toThrow("gather: indices must hold int32 integers, got 0.5");
    expect(() => gather(3, [0])).toThrow("gather: x is a scalar; gather needs x of rank ≥ 1");
    expect(() => gather(x, [0], 2)).toThrow(
      "gather: axis 2 is out of range for a tensor of rank 2",
    );
  });

  it("accumulates the gradient of repeated indices", () => {
    const v = tensor([10, 20, 30], { dtype: "float64" });
    const w = tensor([1, 2, 3, 4], { dtype: "float64" });
    const g = grad((u: Tensor) => sum(mul(gather(u, [2, 0, 2, -1]), w)))(v);
    expect(Array.from(g.data)).toEqual([2, 0, 1 + 3 + 4]);
  });

  it("has gradients along inner axes and of second order", () => {
    const v = tensor([1, 2, 3, 4, 5, 6], { dtype: "float64", shape: [2, 3] });
    checkGrads(
      (u: Tensor) =>
        gather(
          u,
          idx([
            [1, 1],
            [0, 2],
          ]),
          1,
        ),
      [v],
    );
    // h(u) = sum(grad(sum(g²))·u) with g = gather(u, [0, 0]) along axis 1 is 4·u[:, 0]²,
    // so h' = 8·u[:, 0] in column 0: this runs scatterAdd's vjp (gather) under grad.
    const inner = grad((u: Tensor) => {
      const g = gather(u, [0, 0], 1);
      return sum(mul(g, g));
    });
    const h = grad((u: Tensor) => sum(mul(inner(u), u)))(v);
    expect(h.toArray()).toEqual([
      [8, 0, 0],
      [32, 0, 0],
    ]);
  });
});

describe("scatterAdd", () => {
  it("adds rows into zeros at the indices, accumulating repeats", () => {
    const updates = tensor([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(scatterAdd(updates, idx([0, 2, 0]), [3, 2]).toArray()).toEqual([
      [4, 4],
      [0, 0],
      [2, 2],
    ]);
  });

  it("works along a negative axis with multi-dimensional indices", () => {
    const y = scatterAdd(tensor([[[1, 2]], [[3, 4]]]), idx([[-1, 0]]), [2, 3], -1);
    expect(y.toArray()).toEqual([
      [2, 0, 1],
      [4, 0, 3],
    ]);
  });

  it("rejects updates of the wrong shape, bad indices and bad shapes", () => {
    expect(() => scatterAdd(tensor([1, 2]), idx([0, 1, 1]), [4])).toThrow(
      "scatterAdd: updates has shape [2], expected [3]: the target shape [4] with axis 0 " +
        "replaced by indices.shape [3]",
    );
    expect(() => scatterAdd(tensor([1]), idx([4]), [4])).toThrow(
      "scatterAdd: indices[0] = 4 is out of range for axis 0 of the target shape [4]; " +
        "expected -4 ≤ index < 4",
    );
    expect(() => scatterAdd(tensor(1), 0, [])).toThrow("scatterAdd: shape is [] (a scalar)");
    expect(() => scatterAdd(tensor([1]), [0], [-1])).toThrow(
      "scatterAdd: shape must hold non-negative integers",
    );
  });

  it("has gather as its gradient", () => {
    const updates = tensor([1, 2, 3, 4, 5, 6], { dtype: "float64", shape: [3, 2] });
    checkGrads((u: Tensor) => scatterAdd(u, idx([1, 1, 0]), [2, 2]), [updates]);
    const target = tensor([10, 20], { dtype: "float64" });
    const g = grad((u: Tensor) => sum(mul(scatterAdd(u, [1, 1, 0], [2]), target)))(
      tensor([1, 2, 3], { dtype: "float64" }),
    );
    expect(Array.from(g.data)).toEqual([20, 20, 10]);
  });
});

describe("oneHot", () => {
  it("encodes labels along a new last axis", () => {
    const y = oneHot(idx([2, 0, 1]), 3);
    expect(y.dtype).toBe("float32");
    expect(y.toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
  });

  it("takes nested labels, plain arrays and a dtype", () => {
    const y = oneHot([[1], [0]], 2, "int32");
    expect(y.dtype).toBe("int32");
    expect(y.shape).toEqual([2, 1, 2]);
    expect(Array.from(y.data)).toEqual([0, 1, 1, 0]);
    expect(oneHot(1, 2, "float64").toArray()).toEqual([0, 1]);
  });

  it("rejects labels out of range, float labels and bad class counts", () => {
    expect(() => oneHot(idx([[0, 3]]), 3)).toThrow(
      "oneHot: labels[0,1] = 3 is out of range for 3 classes; expected 0 ≤ label < 3",
    );
    expect(() => oneHot([-1], 3)).toThrow("oneHot: labels[0] = -1 is out of range");
    expect(() => oneHot(tensor([1]), 3)).toThrow("oneHot: labels must be int32, got float32");
    expect(() => oneHot([0], 0)).toThrow("oneHot: numClasses must be a positive integer, got 0");
  });
});
