import { describe, expect, it } from "vitest";
import {
  getOp,
  mul,
  prng,
  square,
  stack,
  sum,
  tensor,
  vjp,
  vmap,
  zeros,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { checkOpGradients } from "../testing/index.js";
import { expectError, expectValues, f64, plane } from "../../test/helpers.js";
import { resize2d, resize2dBackward } from "./resize.js";

// Reference values marked "PyTorch" are torch.nn.functional.interpolate in PyTorch 1.13 (CPU,
// float64) on the same input, printed with .flatten().tolist(); gradients are x.grad after
// y.backward(dy).

const x2 = plane([
  [1, 2],
  [3, 4],
]);
// 1 … 9 in a 3×3 plane.
const x3 = f64([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);

describe("resize2d, bilinear", () => {
  it("2×2 → 4×4 with half-pixel centres (alignCorners false)", () => {
    // step = in/out = 2/4; source = max((i + 0.5)·0.5 − 0.5, 0) for i = 0…3: 0 (−0.25 clamped),
    // 0.25, 0.75, 1.25 (cell 1 twice: the upper tap is clamped). So a pair [a, b] becomes
    // [a, 0.75a + 0.25b, 0.25a + 0.75b, b]: rows [1, 1.25, 1.75, 2] and [3, 3.25, 3.75, 4], and
    // the same blend down the columns gives the rows below.
    const expected = [
      [1, 1.25, 1.75, 2],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3, 3.25, 3.75, 4],
    ].flat();
    // PyTorch: interpolate(x, size=(4, 4), mode='bilinear', align_corners=False) gives these.
    expectValues(resize2d(x2, { size: [4, 4], mode: "bilinear" }), [1, 1, 4, 4], expected);
    // scaleFactor 2: step 1/2, the same as 2/4.
    expectValues(resize2d(x2, { scaleFactor: 2, mode: "bilinear" }), [1, 1, 4, 4], expected);
  });

  it("2×2 → 4×4 with corners aligned", () => {
    // step = (in − 1)/(out − 1) = 1/3; source = i/3: 0, 1/3, 2/3, 1. On this plane,
    // y[i][j] = 1 + j/3 + 2·i/3 (x grows by 1 along a row and by 2 down a column).
    const expected = [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => 1 + j / 3 + (2 * i) / 3));
    const y = resize2d(x2, { size: 4, mode: "bilinear", alignCorners: true });
    // PyTorch align_corners=True: [1.0, 1.3333333333333335, 1.6666666666666665, 2.0,
    // 1.6666666666666667, 2.0, 2.333333333333333, 2.666666666666667, …, 3.6666666666666665, 4.0].
    expectValues(y, [1, 1, 4, 4], expected, 14);
  });

  it("with a scale factor maps coordinates by 1/scaleFactor, not by in/out", () => {
    const row = f64([0, 10, 20], [1, 1, 1, 3]);
    // scaleFactor 1.5: out = floor(3·1.5) = 4, step 2/3; sources (i + 0.5)·2/3 − 0.5 =
    // 0 (−1/6 clamped), 0.5, 7/6, 11/6 → 0, 5, 10 + 10/6, 10 + 10·5/6.
    expectValues(
      resize2d(row, { scaleFactor: [1, 1.5], mode: "bilinear" }),
      [1, 1, 1, 4],
      [0, 5, 10 + 10 / 6, 10 + (10 * 5) / 6],
    );
    // size 4: step 3/4; sources 0 (−0.125 clamped), 0.625, 1.375, 2.125 (clamped to cell 2).
    // PyTorch: [0.0, 4.999999999999999, 11.666666666666664, 18.333333333333332] and
    // [0.0, 6.25, 13.75, 20.0].
    expectValues(
      resize2d(row, { size: [1, 4], mode: "bilinear" }),
      [1, 1, 1, 4],
      [0, 6.25, 13.75, 20],
    );
  });

  it("matches PyTorch on 3×3 → 4×4 by scale factor and by size", () => {
    // PyTorch scale_factor=1.5 and size=(4, 4), align_corners=False.
    // prettier-ignore
    expectValues(resize2d(x3, { scaleFactor: 1.5, mode: "bilinear" }), [1, 1, 4, 4], [
      1.0, 1.5, 2.1666666666666665, 2.8333333333333335, 2.5, 2.9999999999999996, 3.666666666666666,
      4.333333333333333, 4.5, 4.999999999999999, 5.666666666666665, 6.333333333333333, 6.5,
      6.999999999999999, 7.666666666666667, 8.333333333333334,
    ]);
    // prettier-ignore
    expectValues(resize2d(x3, { size: [4, 4], mode: "bilinear" }), [1, 1, 4, 4], [
      1.0, 1.625, 2.375, 3.0, 2.875, 3.5, 4.25, 4.875, 5.125, 5.75, 6.5, 7.125, 7.0, 7.625, 8.375,
      9.0,
    ]);
  });

  it("downsamples 4×5 → 3×2 as PyTorch, either alignment", () => {
    const x = f64(
      Array.from({ length: 20 }, (_, i) => i),
      [1, 1, 4, 5],
    );
    // PyTorch, align_corners=False and True.
    expectValues(
      resize2d(x, { size: [3, 2], mode: "bilinear" }),
      [1, 1, 3, 2],
      [1.583333333333333, 4.083333333333333, 8.25, 10.75, 14.916666666666664, 17.416666666666664],
    );
    expectValues(
      resize2d(x, { size: [3, 2], mode: "bilinear", alignCorners: true }),
      [1, 1, 3, 2],
      [0, 4, 7.5, 11.5, 15, 19],
    );
  });

  it("keeps float32 in float32, within float32 rounding of PyTorch", () => {
    const x = tensor([0.1, 0.7, -0.3, 1.9, 2.2, 0.5], { dtype: "float32", shape: [1, 1, 2, 3] });
    const y = resize2d(x, { size: [3, 5], mode: "bilinear" });
    expect(y.dtype).toBe("float32");
    // PyTorch float32, size=(3, 5).
    // prettier-ignore
    expectValues(y, [1, 1, 3, 5], [
      0.10000000149011612, 0.3400000035762787, 0.6999999284744263, 0.09999990463256836,
      -0.30000001192092896, 1.0, 1.1800000667572021, 1.4499999284744263, 0.6399998664855957,
      0.09999999403953552, 1.899999976158142, 2.0199999809265137, 2.1999998092651367,
      1.179999828338623, 0.5,
    ], 6);
  });
});

describe("resize2d, nearest", () => {
  it("2×2 → 4×4 repeats each cell twice along each axis", () => {
    // out = 2·in: source i >> 1 = 0, 0, 1, 1. PyTorch mode='nearest' gives the same.
    const expected = [
      [1, 1, 2, 2],
      [1, 1, 2, 2],
      [3, 3, 4, 4],
      [3, 3, 4, 4],
    ].flat();
    expectValues(resize2d(x2, { size: [4, 4], mode: "nearest" }), [1, 1, 4, 4], expected);
    expectValues(resize2d(x2, { scaleFactor: 2, mode: "nearest" }), [1, 1, 4, 4], expected);
  });

  it("copies cell floor(i · in/out), or floor(i / scaleFactor) with a scale factor", () => {
    // size (5, 4): rows floor(i·3/5) = 0, 0, 1, 1, 2; columns floor(j·3/4) = 0, 0, 1, 2.
    // PyTorch: [1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6, 4, 4, 5, 6, 7, 7, 8, 9].
    expectValues(
      resize2d(x3, { size: [5, 4], mode: "nearest" }),
      [1, 1, 5, 4],
      [1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6, 4, 4, 5, 6, 7, 7, 8, 9],
    );
    // scaleFactor 1.7: out = floor(3·1.7) = 5, sources floor(i/1.7) = 0, 0, 1, 1, 2.
    // PyTorch: [1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9].
    const rows = [0, 0, 1, 1, 2];
    expectValues(
      resize2d(x3, { scaleFactor: 1.7, mode: "nearest" }),
      [1, 1, 5, 5],
      rows.flatMap((r) => rows.map((c) => 3 * r + c + 1)),
    );
    // 4×5 → 3×2: rows floor(i·4/3) = 0, 1, 2; columns floor(j·5/2) = 0, 2.
    // PyTorch: [0, 2, 5, 7, 10, 12].
    const x = f64(
      Array.from({ length: 20 }, (_, i) => i),
      [1, 1, 4, 5],
    );
    expectValues(
      resize2d(x, { size: [3, 2], mode: "nearest" }),
      [1, 1, 3, 2],
      [0, 2, 5, 7, 10, 12],
    );
  });

  it("picks the cells PyTorch picks where float32 and float64 index arithmetic differ", () => {
    // 26 → 22 columns: PyTorch computes floor(i · float32(26/22)) in float32, and output 11 reads
    // cell floor(11 · 1.1818181) = floor(12.999999) = 12 (PyTorch: y[..., 11] = 12); float64
    // arithmetic would read floor(11 · 1.1818181818181819) = floor(13.000000000000002) = 13.
    const x = f64(
      Array.from({ length: 26 }, (_, i) => i),
      [1, 1, 1, 26],
    );
    const y = resize2d(x, { size: [1, 22], mode: "nearest" });
    expect(y.data[11]).toBe(12);
  });

  it("copies values exactly, ±∞ and NaN included, in any dtype", () => {
    const special = f64([Infinity, -Infinity, NaN, 0.1], [1, 1, 2, 2]);
    const y = resize2d(special, { size: [3, 3], mode: "nearest" });
    // rows and columns floor(i·2/3) = 0, 0, 1.
    expect(Array.from(y.data)).toEqual([
      Infinity,
      Infinity,
      -Infinity,
      Infinity,
      Infinity,
      -Infinity,
      NaN,
      NaN,
      0.1,
    ]);
    const labels = tensor([1, 2, 3, 4], { dtype: "int32", shape: [1, 1, 2, 2] });
    const big = resize2d(labels, { scaleFactor: 2, mode: "nearest" });
    expect(big.dtype).toBe("int32");
    expect(Array.from(big.data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("takes an empty batch", () => {
    const y = resize2d(zeros([0, 2, 3, 3], "float64"), { size: [5, 4], mode: "bilinear" });
    expect(y.shape).toEqual([0, 2, 5, 4]);
  });
});

describe("resize2d's gradient: resize2dBackward", () => {
  const dy = f64(
    Array.from({ length: 20 }, (_, i) => i + 1),
    [1, 1, 4, 5],
  );
  const gradient = (attrs: Parameters<typeof resize2d>[1], cotangent: Tensor) =>
    vjp((x: Tensor) => resize2d(x, attrs), x3)[1](cotangent)[0];

  it("matches PyTorch's x.grad for 3×3 → 4×5 (dy = 1 … 20)", () => {
    // prettier-ignore
    expectValues(gradient({ size: [4, 5], mode: "bilinear" }, dy), [1, 1, 3, 3], [
      6.025, 10.799999999999999, 13.174999999999999, 17.75, 23.625, 24.249999999999996, 33.025,
      41.175000000000004, 40.175,
    ]);
    // prettier-ignore
    expectValues(gradient({ size: [4, 5], mode: "bilinear", alignCorners: true }, dy), [1, 1, 3, 3], [
      5.166666666666667, 11.333333333333334, 11.833333333333334, 17.666666666666668, 28.0,
      24.333333333333336, 30.166666666666664, 44.666666666666664, 36.83333333333333,
    ]);
    // Nearest: rows floor(i·3/4) = 0, 0, 1, 2 and columns floor(j·3/5) = 0, 0, 1, 1, 2, so
    // cell (0, 0) collects dy at (0|1, 0|1): 1 + 2 + 6 + 7 = 16. PyTorch: the list below.
    expectValues(
      gradient({ size: [4, 5], mode: "nearest" }, dy),
      [1, 1, 3, 3],
      [16, 24, 15, 23, 27, 15, 33, 37, 20],
    );
    // scaleFactor 1.5 (4×4), dy = 1 … 16.
    const dy16 = f64(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 1, 4, 4],
    );
    // prettier-ignore
    expectValues(gradient({ scaleFactor: 1.5, mode: "bilinear" }, dy16), [1, 1, 3, 3], [
      6.0, 9.250000000000004, 7.749999999999998, 19.000000000000004, 22.25000000000001,
      16.416666666666664, 18.999999999999996, 21.166666666666664, 15.16666666666666,
    ]);
  });

  it("is the adjoint of resize2d: ⟨resize2d(x), d⟩ = ⟨x, resize2dBackward(d)⟩", () => {
    const x = prng(1).normal([2, 3, 5, 4], { dtype: "float64" });
    for (const attrs of [
      { size: [7, 3] as const, mode: "bilinear" as const },
      { scaleFactor: [0.6, 2.5] as const, mode: "bilinear" as const, alignCorners: true },
      { size: [3, 9] as const, mode: "nearest" as const },
    ]) {
      const y = resize2d(x, attrs);
      const d = prng(2).normal([...y.shape], { dtype: "float64" });
      const back = resize2dBackward(d, { ...attrs, inputShape: x.shape });
      expect(back.shape).toEqual(x.shape);
      expect(sum(mul(y, d)).item()).toBeCloseTo(sum(mul(x, back)).item(), 12);
    }
  });

  it("has gradients of any order: both ops, and a nonlinear loss, at order 2", () => {
    for (const name of ["resize2d", "resize2dBackward"]) {
      checkOpGradients(getOp(name)!, { numRuns: 10, order: 2, modes: ["rev", "fwd"] });
    }
    const x = prng(3).normal([1, 2, 3, 2], { dtype: "float64" });
    const loss = (x: Tensor) => sum(square(resize2d(x, { size: [4, 5], mode: "bilinear" })));
    checkGrads(loss, [x], { order: 2 });
  });

  it("batches under vmap as more images, the batch axis anywhere", () => {
    const attrs = { scaleFactor: 1.5, mode: "bilinear" } as const;
    const slices = [0, 1, 2].map((b) => prng(4 + b).normal([2, 3, 2, 2], { dtype: "float64" }));
    const expected = stack(
      slices.map((x) => resize2d(x, attrs)),
      0,
    );
    // Mapped over the last axis: [2, 3, 2, 2, B].
    const batched = vmap((x: Tensor) => resize2d(x, attrs), { inAxes: 4 })(stack(slices, 4));
    expect(batched.shape).toEqual([3, 2, 3, 3, 3]);
    expect(Array.from(batched.data)).toEqual(Array.from(expected.data));
  });
});

describe("errors name the op and the argument", () => {
  const nearest = { size: [4, 4] as const, mode: "nearest" as const };

  it("rejects bad shapes and dtypes", () => {
    expectError(
      () => resize2d(f64([1, 2, 3, 4], [1, 2, 2]), nearest),
      "SHAPE_MISMATCH",
      "resize2d: x must be 4-D [N, C, H, W], got shape [1,2,2]",
    );
    expectError(
      () => resize2d(zeros([1, 1, 0, 2]), nearest),
      "SHAPE_MISMATCH",
      "resize2d: x must have positive channel, height and width sizes, got shape [1,1,0,2]",
    );
    expectError(
      () =>
        resize2d(tensor([1, 2, 3, 4], { dtype: "int32", shape: [1, 1, 2, 2] }), {
          size: 3,
          mode: "bilinear",
        }),
      "DTYPE_MISMATCH",
      'resize2d: x must be float32 or float64 for mode "bilinear" (only "nearest" takes int32), got int32',
    );
  });

  it("rejects bad attrs", () => {
    expectError(
      () => resize2d(x2, { size: 4, scaleFactor: 2, mode: "nearest" }),
      "INVALID_ARGUMENT",
      "resize2d: give exactly one of size and scaleFactor, got both",
    );
    expectError(
      () => resize2d(x2, { mode: "nearest" }),
      "INVALID_ARGUMENT",
      "resize2d: give exactly one of size and scaleFactor, got neither",
    );
    expectError(
      () => resize2d(x2, { size: 4, mode: "bicubic" as "nearest" }),
      "INVALID_ARGUMENT",
      'resize2d: mode must be "nearest" or "bilinear", got bicubic',
    );
    expectError(
      () => resize2d(x2, { ...nearest, alignCorners: false }),
      "INVALID_ARGUMENT",
      'resize2d: alignCorners applies to mode "bilinear" only, got alignCorners false with mode "nearest"',
    );
    expectError(
      () => resize2d(x2, { size: 4, mode: "bilinear", alignCorners: 1 as unknown as boolean }),
      "INVALID_ARGUMENT",
      "resize2d: alignCorners must be a boolean, got 1",
    );
    expectError(
      () => resize2d(x2, { size: [4, 1.5] as unknown as [number, number], mode: "nearest" }),
      "INVALID_ARGUMENT",
      "resize2d: size must be an integer ≥ 1 or a pair of them, got [4,1.5]",
    );
    expectError(
      () => resize2d(x2, { scaleFactor: -1, mode: "nearest" }),
      "INVALID_ARGUMENT",
      "resize2d: scaleFactor must be a positive finite number or a pair of them, got -1",
    );
    expectError(
      () => resize2d(x2, { scaleFactor: [2, 0.4], mode: "nearest" }),
      "INVALID_ARGUMENT",
      "resize2d: scaleFactor [2,0.4] gives a 4×0 output for the 2×2 x (floor(size · scaleFactor)); " +
        "each side must be at least 1",
    );
    expect(() => resize2d(zeros([0, 1, 2, 2]), { scaleFactor: 2 ** 40, mode: "nearest" })).toThrow(
      /^resize2d: the result would have shape \[/,
    );
  });

  it("checks resize2dBackward's dy against inputShape", () => {
    expectError(
      () => resize2dBackward(zeros([1, 1, 3, 3]), { ...nearest, inputShape: [1, 1, 2, 2] }),
      "SHAPE_MISMATCH",
      "resize2dBackward: dy must have shape [1,1,4,4] (resize2d's output for inputShape " +
        "[1,1,2,2]), got [1,1,3,3]",
    );
    expectError(
      () => resize2dBackward(zeros([1, 1, 4, 4]), { ...nearest, inputShape: [2, 2] }),
      "SHAPE_MISMATCH",
      "resize2dBackward: inputShape must be 4-D [N, C, H, W], got shape [2,2]",
    );
    expectError(
      () =>
        resize2dBackward(zeros([1, 1, 4, 4], "int32"), { ...nearest, inputShape: [1, 1, 2, 2] }),
      "DTYPE_MISMATCH",
      "resize2dBackward: dy must be float32 or float64, got int32",
    );
  });
});
