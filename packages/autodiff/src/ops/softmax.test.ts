import { describe, expect, it } from "vitest";
import {
  checkGrads,
  exp,
  grad,
  log,
  logSoftmax,
  mul,
  softmax,
  sum,
  tensor,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

/** Reference softmax of one list, the textbook way (fine for small values). */
function naive(values: number[]): number[] {
  const e = values.map(Math.exp);
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

describe("softmax", () => {
  it("normalises along the last axis by default", () => {
    expectValues(softmax(f64([1, 2, 3])), [3], naive([1, 2, 3]));
    const x = f64([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    expectValues(softmax(x), [2, 3], [...naive([1, 2, 3]), 1 / 3, 1 / 3, 1 / 3]);
    expectValues(softmax(x, -1), [2, 3], [...naive([1, 2, 3]), 1 / 3, 1 / 3, 1 / 3]);
  });

  it("normalises along another axis", () => {
    const x = f64([
      [1, 2],
      [3, 5],
    ]);
    const [a, b] = naive([1, 3]);
    const [c, d] = naive([2, 5]);
    expectValues(softmax(x, 0), [2, 2], [a!, c!, b!, d!]);
    expectValues(softmax(x, -2), [2, 2], [a!, c!, b!, d!]);
  });

  it("is finite and correct for large inputs", () => {
    const e = Math.E;
    expectValues(softmax(f64([1000, 1001])), [2], [1 / (1 + e), e / (1 + e)]);
    expectValues(softmax(f64([-1000, -1001])), [2], [e / (1 + e), 1 / (1 + e)]);
    const single = softmax(tensor([1000, 1001], { dtype: "float32" }));
    expectValues(single, [2], [1 / (1 + e), e / (1 + e)], 6);
  });

  it("masks −∞ to 0 and spreads NaN along its axis only", () => {
    expectValues(softmax(f64([0, -Infinity, 0])), [3], [0.5, 0, 0.5]);
    expectValues(
      softmax(
        f64([
          [1, NaN],
          [0, 0],
        ]),
      ),
      [2, 2],
      [NaN, NaN, 0.5, 0.5],
    );
  });

  it("keeps float dtypes and computes int32 in float32", () => {
    expect(softmax(tensor([1, 2], { dtype: "float32" })).dtype).toBe("float32");
    const y = softmax(tensor([1, 2, 3], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expectValues(y, [3], naive([1, 2, 3]), 6);
  });

  it("accepts a size-0 axis (the result is empty too)", () => {
    expectValues(softmax(zeros([2, 0])), [2, 0], []);
  });

  it("has a gradient of 0 for its sum and y·(w − Σ w·y) for a weighted sum", () => {
    const x = f64([0.5, -1, 2]);
    expectValues(grad((v: Tensor) => sum(softmax(v)))(x), [3], [0, 0, 0]);
    const w = [1, -2, 0.5];
    const y = naive([0.5, -1, 2]);
    const dot = y.reduce((a, v, i) => a + v * w[i]!, 0);
    const g = grad((v: Tensor) => sum(mul(softmax(v), f64(w))))(x);
    expectValues(
      g,
      [3],
      y.map((v, i) => v * (w[i]! - dot)),
    );
  });

  it("has a vjp that can itself be differentiated", () => {
    const w = f64([
      [0.3, -1.2, 0.7],
      [1, 0, -0.5],
    ]);
    const inner = grad((v: Tensor) => sum(mul(softmax(v, 0), w)));
    checkGrads(
      (v: Tensor) => sum(mul(inner(v), w)),
      [
        f64([
          [0.5, -0.25, 1],
          [0, 2, -1],
        ]),
      ],
    );
  });

  it("rejects scalars and bad axes with precise errors", () => {
    expectError(
      () => softmax(tensor(1)),
      "SHAPE_MISMATCH",
      "softmax: x must have at least one axis, got a scalar (shape [])",
    );
    expectError(
      () => softmax(zeros([2, 3]), 2),
      "INVALID_ARGUMENT",
      "softmax: axis 2 is out of range for a tensor of rank 2",
    );
    expectError(
      () => softmax(zeros([2, 3]), 0.5),
      "INVALID_ARGUMENT",
      "softmax: axis must be an integer, got 0.5",
    );
  });
});

describe("logSoftmax", () => {
  it("equals log(softmax) on moderate inputs, along any axis", () => {
    const x = f64([
      [1, 2, 3],
      [-1, 0, 4],
    ]);
    expectValues(logSoftmax(x), [2, 3], Array.from(log(softmax(x)).data));
    expectValues(logSoftmax(x, 0), [2, 3], Array.from(log(softmax(x, 0)).data));
    expectValues(sum(exp(logSoftmax(x)), { axis: -1 }), [2], [1, 1]);
  });

  it("is finite and correct where log(softmax) would underflow", () => {
    const e = Math.E;
    expectValues(logSoftmax(f64([1000, 1001])), [2], [-Math.log1p(e), -Math.log1p(1 / e)]);
    expectValues(logSoftmax(f64([-1000, 0])), [2], [-1000, 0]);
    expect(Array.from(log(softmax(f64([-1000, 0]))).data)[0]).toBe(-Infinity);
  });

  it("computes int32 in float32", () => {
    const y = logSoftmax(tensor([0, 0], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expectValues(y, [2], [-Math.LN2, -Math.LN2], 6);
  });

  it("has gradient onehot − softmax for the picked log-probability", () => {
    const x = f64([0.5, -1, 2]);
    const onehot = f64([0, 1, 0]);
    const g = grad((v: Tensor) => sum(mul(logSoftmax(v), onehot)))(x);
    const y = naive([0.5, -1, 2]);
    expectValues(g, [3], [-y[0]!, 1 - y[1]!, -y[2]!]);
  });

  it("has a vjp that can itself be differentiated", () => {
    const w = f64([0.3, -1.2, 0.7]);
    const inner = grad((v: Tensor) => sum(mul(logSoftmax(v), w)));
    checkGrads((v: Tensor) => sum(mul(inner(v), w)), [f64([0.5, -0.25, 1])]);
  });

  it("rejects scalars and bad axes with precise errors", () => {
    expectError(
      () => logSoftmax(tensor(1), 0),
      "SHAPE_MISMATCH",
      "logSoftmax: x must have at least one axis, got a scalar (shape [])",
    );
    expectError(
      () => logSoftmax(zeros([4]), -2),
      "INVALID_ARGUMENT",
      "logSoftmax: axis -2 is out of range for a tensor of rank 1",
    );
  });
});
