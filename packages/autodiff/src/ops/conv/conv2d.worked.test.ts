import { describe, expect, it } from "vitest";
import { conv2d, grad, mul, prng, sum, vjp, zeros, type Tensor } from "../../index.js";
import { f64 } from "../../../test/helpers.js";
import { image, plane, x3, w2, x4, w4 } from "../../../test/convImages.js";

describe("conv2d: the worked examples of docs/cnn-backward.md", () => {
  it("cross-correlates without flipping the kernel", () => {
    expect(plane(conv2d(x3, w2))).toEqual([
      [19, 25],
      [37, 43],
    ]);
  });

  it("adds the filter's bias", () => {
    expect(plane(conv2d(x3, w2, { bias: f64([2]) }))).toEqual([
      [21, 27],
      [39, 45],
    ]);
  });

  it("pads with zeros (padding 1: a wide convolution, n + m − 1)", () => {
    expect(plane(conv2d(x3, w2, { padding: 1 }))).toEqual([
      [0, 3, 8, 4],
      [9, 19, 25, 10],
      [21, 37, 43, 16],
      [6, 7, 8, 0],
    ]);
  });

  it("strides (stride 2: floor((4 − 2)/2) + 1 = 2 per axis)", () => {
    expect(plane(conv2d(x4, w4, { stride: 2 }))).toEqual([
      [56, 57],
      [20, 32],
    ]);
  });

  it("has (F·F·D1 + 1)·D2 = 56 parameters for two 3×3×3 filters", () => {
    const w = zeros([2, 3, 3, 3], "float64");
    const bias = zeros([2], "float64");
    const y = conv2d(zeros([1, 3, 5, 5], "float64"), w, { bias });
    const [filters, depth, f] = [y.shape[1]!, w.shape[1]!, w.shape[2]!];
    expect(y.shape).toEqual([1, 2, 3, 3]);
    expect((f * f * depth + 1) * filters).toBe(56);
    expect(w.size + bias.size).toBe(56);
  });

  it("backward, stride 1: dx sums the kernel over the windows, dw correlates x with δ", () => {
    const [, pullback] = vjp((x: Tensor, w: Tensor) => conv2d(x, w), x3, w2);
    const [dx, dw] = pullback(
      f64([
        [
          [
            [1, 1],
            [1, 1],
          ],
        ],
      ]),
    );
    expect(plane(dx)).toEqual([
      [0, 1, 1],
      [2, 6, 4],
      [2, 5, 3],
    ]);
    expect(plane(dw)).toEqual([
      [8, 12],
      [20, 24],
    ]);
  });

  it("backward, stride 2: δ with S − 1 zeros between its entries", () => {
    const [, pullback] = vjp((x: Tensor, w: Tensor) => conv2d(x, w, { stride: 2 }), x4, w4);
    const [dx, dw] = pullback(
      image([
        [1, 2],
        [3, 4],
      ]),
    );
    // Non-overlapping windows: each holds δ_ij·w.
    expect(plane(dx)).toEqual([
      [1, 2, 2, 4],
      [3, 4, 6, 8],
      [3, 6, 4, 8],
      [9, 12, 12, 16],
    ]);
    expect(plane(dw)).toEqual([
      [46, 18],
      [32, 45],
    ]);
  });

  it("the bias gradient is the sum of δ per output channel, over batch and positions", () => {
    const x = prng(1).normal([2, 3, 4, 5], { dtype: "float64" });
    const w = prng(2).normal([4, 3, 2, 2], { dtype: "float64" });
    const dy = prng(3).normal([2, 4, 3, 4], { dtype: "float64" });
    const db = grad((b: Tensor) => sum(mul(conv2d(x, w, { bias: b }), dy)))(zeros([4], "float64"));
    const expected = sum(dy, { axis: [0, 2, 3] });
    expect(Array.from(db.data)).toEqual(Array.from(expected.data, (v) => expect.closeTo(v, 12)));
  });
});
