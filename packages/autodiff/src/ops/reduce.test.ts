import { describe, expect, it } from "vitest";
import {
  argmax,
  argmin,
  checkGrads,
  grad,
  logSumExp,
  max,
  min,
  mul,
  sum,
  tensor,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

describe("max and min", () => {
  const x = f64([
    [1, 5, 3],
    [4, 2, 6],
  ]);

  it("reduce over all axes by default, one axis, a list of axes, and negative axes", () => {
    expectValues(max(x), [], [6]);
    expectValues(min(x), [], [1]);
    expectValues(max(x, { axis: 0 }), [3], [4, 5, 6]);
    expectValues(min(x, { axis: 0 }), [3], [1, 2, 3]);
    expectValues(max(x, { axis: -1 }), [2], [5, 6]);
    expectValues(min(x, { axis: 1 }), [2], [1, 2]);
    expectValues(max(x, { axis: [0, 1] }), [], [6]);
  });

  it("keep reduced axes as size 1 with keepdims", () => {
    expectValues(max(x, { axis: 1, keepdims: true }), [2, 1], [5, 6]);
    expectValues(min(x, { keepdims: true }), [1, 1], [1]);
  });

  it("keep the input dtype, including int32 rows that are all negative or all positive", () => {
    expect(max(tensor([1, 2], { dtype: "float32" })).dtype).toBe("float32");
    const ints = tensor(
      [
        [-3, -5],
        [7, 9],
      ],
      { dtype: "int32" },
    );
    expectValues(max(ints, { axis: 1 }), [2], [-3, 9]);
    expectValues(min(ints, { axis: 1 }), [2], [-5, 7]);
    expect(max(ints).dtype).toBe("int32");
  });

  it("propagate NaN", () => {
    expectValues(max(f64([1, NaN, 3])), [], [NaN]);
    expectValues(min(f64([NaN, 1, 3])), [], [NaN]);
    expectValues(
      max(
        f64([
          [1, NaN],
          [2, 3],
        ]),
        { axis: 1 },
      ),
      [2],
      [NaN, 3],
    );
  });

  it("send the gradient to the extreme, split evenly among ties", () => {
    expectValues(grad((v: Tensor) => max(v))(f64([1, 3, 3])), [3], [0, 0.5, 0.5]);
    expectValues(grad((v: Tensor) => min(v))(f64([2, 2, 2, 5])), [4], [1 / 3, 1 / 3, 1 / 3, 0]);
    const rows = f64([
      [2, 2, 1],
      [0, 4, 3],
    ]);
    const w = f64([10, 20]);
    const byRow = grad((v: Tensor) => sum(mul(max(v, { axis: 1 }), w)));
    expectValues(byRow(rows), [2, 3], [5, 5, 0, 0, 20, 0]);
    const byColumn = grad((v: Tensor) => sum(min(v, { axis: 0, keepdims: true })));
    expectValues(byColumn(rows), [2, 3], [0, 1, 1, 1, 0, 0]);
  });

  it("have a vjp that can itself be differentiated (second derivative 0 away from ties)", () => {
    const g = grad((v: Tensor) => sum(grad((u: Tensor) => max(mul(u, u)))(v)));
    expectValues(g(f64([1, -3, 2])), [3], [0, 2, 0]);
  });

  it("reject a size-0 axis unless the output is empty too", () => {
    expectError(
      () => max(zeros([2, 0]), { axis: 1 }),
      "SHAPE_MISMATCH",
      "max: cannot reduce x of shape [2,0] over axis 1 of size 0: " +
        "the maximum of no elements is undefined",
    );
    expectError(
      () => min(zeros([0])),
      "SHAPE_MISMATCH",
      "min: cannot reduce x of shape [0] over axis 0 of size 0: " +
        "the minimum of no elements is undefined",
    );
    expectValues(max(zeros([0, 3]), { axis: 1 }), [0], []);
  });

  it("reject bad axes, naming the op", () => {
    const invalid = (f: () => unknown, message: string) =>
      expectError(f, "INVALID_ARGUMENT", message);
    invalid(() => max(x, { axis: 2 }), "max: axis 2 is out of range for a tensor of rank 2");
    invalid(() => min(x, { axis: -3 }), "min: axis -3 is out of range for a tensor of rank 2");
    invalid(() => max(x, { axis: [1, -1] }), "max: axis 1 is repeated in [1,-1]");
    invalid(() => min(x, { axis: 0.5 }), "min: axis 0.5 is out of range for a tensor of rank 2");
  });
});

describe("logSumExp", () => {
  it("matches log Σ exp over all axes, one axis, and with keepdims", () => {
    const x = f64([
      [1, 2],
      [3, 4],
    ]);
    const pair = Math.log1p(Math.exp(-1));
    expectValues(logSumExp(x), [], [Math.log(Math.E + Math.E ** 2 + Math.E ** 3 + Math.E ** 4)]);
    expectValues(logSumExp(x, { axis: 1 }), [2], [2 + pair, 4 + pair]);
    const gap2 = Math.log1p(Math.exp(-2));
    expectValues(logSumExp(x, { axis: 0, keepdims: true }), [1, 2], [3 + gap2, 4 + gap2]);
    expectValues(logSumExp(f64([0, 0])), [], [Math.LN2]);
  });

  it("is stable for large and very negative inputs", () => {
    expectValues(logSumExp(f64([-1000, -1000])), [], [-1000 + Math.LN2]);
    expectValues(logSumExp(f64([1000, 1000])), [], [1000 + Math.LN2]);
    expectValues(logSumExp(f64([1000, 1001]), { axis: 0 }), [], [1001 + Math.log1p(Math.exp(-1))]);
    expectValues(logSumExp(tensor([100, 100], { dtype: "float32" })), [], [100 + Math.LN2], 4);
  });

  it("gives the right limits for empty, −∞, +∞ and NaN inputs", () => {
    expectValues(logSumExp(zeros([2, 0]), { axis: 1 }), [2], [-Infinity, -Infinity]);
    expectValues(logSumExp(f64([-Infinity, -Infinity])), [], [-Infinity]);
    expectValues(logSumExp(f64([-Infinity, 0])), [], [0]);
    expectValues(logSumExp(f64([Infinity, 1])), [], [Infinity]);
    expectValues(logSumExp(f64([NaN, 1])), [], [NaN]);
  });

  it("computes int32 input in float32", () => {
    const y = logSumExp(tensor([0, 0], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expectValues(y, [], [Math.LN2], 6);
  });

  it("has the softmax as its gradient, finite for large inputs", () => {
    const e = Math.E;
    const g = grad((v: Tensor) => logSumExp(v))(f64([1000, 1001]));
    expectValues(g, [2], [1 / (1 + e), e / (1 + e)]);
  });

  it("has a vjp that can itself be differentiated", () => {
    const w = f64([0.3, -1.2, 0.7]);
    const inner = grad((v: Tensor) => logSumExp(v, { axis: 0 }));
    checkGrads((v: Tensor) => sum(mul(inner(v), w)), [f64([0.5, -0.25, 1])]);
  });
});

describe("argmax and argmin", () => {
  const x = f64([
    [1, 7, 3],
    [7, 0, 2],
  ]);

  it("search the flattened tensor by default and give int32 indices", () => {
    const i = argmax(x);
    expect(i.dtype).toBe("int32");
    expectValues(i, [], [1]);
    expectValues(argmin(x), [], [4]);
  });

  it("search along an axis, negative axes and keepdims included", () => {
    expectValues(argmax(x, { axis: 0 }), [3], [1, 0, 0]);
    expectValues(argmin(x, { axis: 0 }), [3], [0, 1, 1]);
    expectValues(argmax(x, { axis: -1 }), [2], [1, 0]);
    expectValues(argmin(x, { axis: 1, keepdims: true }), [2, 1], [0, 1]);
    expectValues(argmax(x, { keepdims: true }), [1, 1], [1]);
  });

  it("return the first index of tied extremes, and of a NaN", () => {
    expectValues(argmax(f64([2, 5, 5, 1])), [], [1]);
    expectValues(argmin(f64([3, 1, 1])), [], [1]);
    expectValues(argmax(f64([1, NaN, 5, NaN])), [], [1]);
    expectValues(argmin(tensor([4, -2, -2], { dtype: "int32" })), [], [1]);
  });

  it("treat a scalar as a one-element list", () => {
    expectValues(argmax(f64([[5]]), { axis: 1 }), [1], [0]);
    expectValues(argmin(tensor(3)), [], [0]);
    expectValues(argmax(tensor(3), { axis: 0, keepdims: true }), [], [0]);
  });

  it("reject empty searches and bad axes with precise errors", () => {
    expectError(
      () => argmax(zeros([0])),
      "SHAPE_MISMATCH",
      "argmax: cannot reduce x of shape [0] over axis 0 of size 0: " +
        "the maximum of no elements is undefined",
    );
    expectError(
      () => argmin(zeros([3, 0]), { axis: 1 }),
      "SHAPE_MISMATCH",
      "argmin: cannot reduce x of shape [3,0] over axis 1 of size 0: " +
        "the minimum of no elements is undefined",
    );
    expectValues(argmax(zeros([0, 3]), { axis: 1 }), [0], []);
    expectError(
      () => argmax(x, { axis: 2 }),
      "INVALID_ARGUMENT",
      "argmax: axis 2 is out of range for a tensor of rank 2",
    );
    // A JavaScript caller may pass a list, as max accepts; argmax takes a single axis only.
    const listAxis: { axis?: number } = JSON.parse('{"axis":[0,1]}');
    expectError(
      () => argmin(x, listAxis),
      "INVALID_ARGUMENT",
      "argmin: axis must be one integer, or undefined for all elements, got [0,1]",
    );
  });
});
