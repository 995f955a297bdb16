import { describe, expect, it } from "vitest";
import { concat, grad, mul, stack, sum, tensor, TapegradError, type Tensor } from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { f64 } from "../../test/helpers.js";

describe("concat", () => {
  const a = tensor([
    [1, 2],
    [3, 4],
  ]);
  const b = tensor([[5, 6]]);
  const c = tensor([[7], [8]]);

  it("joins along axis 0 by default", () => {
    const y = concat([a, b]);
    expect(y.shape).toEqual([3, 2]);
    expect(y.toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it("joins along a later or negative axis", () => {
    const expected = [
      [1, 2, 7],
      [3, 4, 8],
    ];
    expect(concat([a, c], 1).toArray()).toEqual(expected);
    expect(concat([a, c], -1).toArray()).toEqual(expected);
  });

  it("joins three inputs of rank 3 in the middle", () => {
    const x = tensor([0, 1, 2, 3], { shape: [2, 1, 2] });
    const y = tensor([4, 5, 6, 7, 8, 9, 10, 11], { shape: [2, 2, 2] });
    const out = concat([x, y, x], 1);
    expect(out.shape).toEqual([2, 4, 2]);
    expect(Array.from(out.data)).toEqual([0, 1, 4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11, 2, 3]);
  });

  it("accepts empty inputs along the axis and a single input", () => {
    expect(concat([a, tensor([], { shape: [0, 2] })]).toArray()).toEqual(a.toArray());
    expect(concat([b]).toArray()).toEqual([[5, 6]]);
  });

  it("promotes dtypes", () => {
    const ints = tensor([1, 2], { dtype: "int32" });
    expect(concat([ints, ints]).dtype).toBe("int32");
    expect(concat([ints, tensor([0.5])]).dtype).toBe("float32");
    const mixed = concat([ints, f64([0.25])]);
    expect(mixed.dtype).toBe("float64");
    expect(Array.from(mixed.data)).toEqual([1, 2, 0.25]);
  });

  it("rejects mismatched shapes, ranks, scalars, empty lists and bad axes", () => {
    expect(() => concat([a, tensor([[1, 2, 3]])])).toThrow(
      "concat: xs[1] has shape [1,3], expected [*,2] to match xs[0] [2,2] on every axis but 0",
    );
    expect(() => concat([a, c], 0)).toThrow(
      "concat: xs[1] has shape [2,1], expected [*,2] to match xs[0] [2,2] on every axis but 0",
    );
    expect(() => concat([a, tensor([1, 2])])).toThrow(
      "concat: xs[1] has shape [2] (rank 1), expected rank 2 like xs[0] [2,2]",
    );
    expect(() => concat([tensor(1), tensor(2)])).toThrow("concat: xs[0] is a scalar");
    expect(() => concat([])).toThrow("concat: xs must hold at least one tensor");
    expect(() => concat([a, b], 2)).toThrow(
      "concat: axis 2 is out of range for a tensor of rank 2",
    );
    expect(() => concat([a, c])).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => concat([a, c])).toThrow(TapegradError);
  });

  it("sends each input its own slice of the gradient", () => {
    const w = f64([1, 2, 3, 4, 5], [5]);
    const loss = (x: Tensor, y: Tensor) => sum(mul(concat([x, y, x]), w));
    const x = f64([10], [1]);
    const y = f64([20, 30, 40], [3]);
    // x appears at positions 0 and 4, so its gradient accumulates w[0] + w[4].
    expect(Array.from(grad(loss)(x, y).data)).toEqual([6]);
    expect(Array.from(grad(loss, { argnums: 1 })(x, y).data)).toEqual([2, 3, 4]);
  });

  it("passes gradients back through a float32 input of a float64 result", () => {
    const g = grad((x: Tensor) => sum(concat([x, f64([1])])))(tensor([1, 2]));
    expect(g.dtype).toBe("float32");
    expect(Array.from(g.data)).toEqual([1, 1]);
  });
});

describe("stack", () => {
  const x = tensor([1, 2, 3]);
  const y = tensor([4, 5, 6]);

  it("adds a new leading axis by default", () => {
    const out = stack([x, y]);
    expect(out.shape).toEqual([2, 3]);
    expect(out.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("adds the new axis last with axis = -1 or 1", () => {
    const expected = [
      [1, 4],
      [2, 5],
      [3, 6],
    ];
    expect(stack([x, y], -1).toArray()).toEqual(expected);
    expect(stack([x, y], 1).toArray()).toEqual(expected);
  });

  it("stacks numbers and scalars into a vector", () => {
    const out = stack([tensor(1.5, { dtype: "float64" }), 2, 3]);
    expect(out.dtype).toBe("float64");
    expect(out.toArray()).toEqual([1.5, 2, 3]);
  });

  it("rejects unequal shapes, empty lists and bad axes", () => {
    expect(() => stack([x, tensor([1, 2])])).toThrow(
      "stack: xs[1] has shape [2], expected [3] like xs[0]",
    );
    expect(() => stack([])).toThrow("stack: xs must hold at least one tensor");
    expect(() => stack([x, y], 2)).toThrow("stack: axis 2 is out of range for a tensor of rank 2");
  });

  it("matches finite differences", () => {
    const f = (a: Tensor, b: Tensor) => stack([a, b, a], 1);
    checkGrads(f, [f64([1, 2, 3, 4], [2, 2]), f64([5, 6, 7, 8], [2, 2])]);
  });
});
