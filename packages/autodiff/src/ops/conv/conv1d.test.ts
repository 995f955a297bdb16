import { describe, expect, it } from "vitest";
import { prng, tensor, vjp, vmap, stack, zeros, type Tensor } from "../../index.js";
import { checkGrads } from "../../testing/checkGrads.js";
import { expectError, expectValues, f64 } from "../../../test/helpers.js";
import { conv1d } from "./conv1d.js";

// Reference values marked "PyTorch" are torch.nn.functional.conv1d in PyTorch 1.13 (CPU,
// float64) on the same tensors, printed with .flatten().tolist(); gradients are .grad after
// y.backward(dy).

// x [1, 2, 5], w [2, 2, 3], bias [2].
const x = f64([
  [
    [1, 2, 3, 4, 5],
    [0.5, -1, 2, 0, 1],
  ],
]);
const w = f64([
  [
    [1, 0, -1],
    [2, 1, 0],
  ],
  [
    [0.5, 0.5, 0.5],
    [-1, 1, -1],
  ],
]);
const bias = f64([0.25, -1]);

describe("conv1d", () => {
  it("cross-correlates along the length", () => {
    // y[0, 0, 0] = (1·1 + 2·0 + 3·−1) + (0.5·2 + −1·1 + 2·0) = −2 + 0 = −2;
    // y[0, 1, 0] = 0.5·(1 + 2 + 3) + (−0.5 − 1 − 2) = 3 − 3.5 = −0.5.
    // PyTorch: [-2.0, -2.0, 2.0, -0.5, 7.5, 3.0].
    expectValues(conv1d(x, w), [1, 2, 3], [-2, -2, 2, -0.5, 7.5, 3]);
  });

  it("applies stride, padding and bias as PyTorch", () => {
    // PyTorch conv1d(x, w, bias=b, stride=2, padding=1): [-1.25, -1.75, 5.25, 2.0, 6.5, 4.5].
    expectValues(
      conv1d(x, w, { bias, stride: 2, padding: 1 }),
      [1, 2, 3],
      [-1.25, -1.75, 5.25, 2, 6.5, 4.5],
    );
    // PyTorch conv1d(x, w, padding='same', dilation=2).
    expectValues(
      conv1d(x, w, { padding: "same", dilation: 2 }),
      [1, 2, 5],
      [-2.5, -5, -1, 0, 8, 0.5, 2, 5, 4, 3],
    );
    // [left, right] = [2, 0]: PyTorch conv1d(F.pad(x, (2, 0)), w).
    expectValues(
      conv1d(x, w, { padding: [2, 0] }),
      [1, 2, 5],
      [-1, -1.5, -2, -2, 2, 0, 3, -0.5, 7.5, 3],
    );
    expectValues(conv1d(x, w, { padding: "valid" }), [1, 2, 3], [-2, -2, 2, -0.5, 7.5, 3]);
  });

  it("takes groups, an even kernel with 'same' (the odd cell on the right) and [C, L] input", () => {
    // groups 2, w [2, 1, 2]: total padding 1 goes after. PyTorch conv1d(x, wg, groups=2,
    // padding='same'): [-3.0, -4.0, -5.0, -6.0, 5.0, 1.0, -2.0, 6.0, 0.5, 3.0].
    const wg = f64([[[1, -2]], [[3, 0.5]]]);
    expectValues(
      conv1d(x, wg, { groups: 2, padding: "same" }),
      [1, 2, 5],
      [-3, -4, -5, -6, 5, 1, -2, 6, 0.5, 3],
    );
    // PyTorch conv1d(x[0], w, padding=1).
    const unbatched = f64([
      [1, 2, 3, 4, 5],
      [0.5, -1, 2, 0, 1],
    ]);
    expectValues(
      conv1d(unbatched, w, { padding: 1 }),
      [2, 5],
      [-1.5, -2, -2, 2, 5, 3, -0.5, 7.5, 3, 5.5],
    );
    expect(conv1d(zeros([0, 2, 5]), w).shape).toEqual([0, 2, 3]);
  });

  it("has PyTorch's gradients for x, w and bias", () => {
    const dy = f64([
      [
        [1, 2, 3],
        [-1, 0.5, 2],
      ],
    ]);
    const f = (x: Tensor, w: Tensor, b: Tensor) => conv1d(x, w, { bias: b, stride: 2, padding: 1 });
    const [, pullback] = vjp(f, x, w, bias);
    const [dx, dw, db] = pullback(dy);
    // PyTorch x.grad, w.grad and b.grad.
    expectValues(dx, [1, 2, 5], [-0.5, 0.75, 0.25, 2.25, 1, 0, 4.5, 2.5, 3.5, 5]);
    expectValues(dw, [2, 2, 3], [16, 22, 10, -2, 7.5, -1, 9, 10.5, 0, -0.5, 2.5, 1]);
    expectValues(db, [2], [6, 1.5]);
  });

  it("has finite-difference-exact gradients of first and second order", () => {
    const xs = prng(1).normal([2, 4, 7], { dtype: "float64" });
    const ws = prng(2).normal([6, 2, 3], { dtype: "float64" });
    const bs = prng(3).normal([6], { dtype: "float64" });
    const f = (x: Tensor, w: Tensor, b: Tensor) =>
      conv1d(x, w, { bias: b, stride: 2, padding: [2, 1], dilation: 2, groups: 2 });
    checkGrads(f, [xs, ws, bs], { order: 2, modes: ["rev", "fwd"] });
  });

  it("maps under vmap", () => {
    const xs = [0, 1, 2].map((b) => prng(4 + b).normal([2, 5], { dtype: "float64" }));
    const batched = vmap((x: Tensor) => conv1d(x, w, { padding: 1 }), { inAxes: 1 })(stack(xs, 1));
    const expected = stack(
      xs.map((x) => conv1d(x, w, { padding: 1 })),
      0,
    );
    expect(batched.shape).toEqual([3, 2, 5]);
    Array.from(batched.data).forEach((v, i) => expect(v).toBeCloseTo(expected.data[i]!, 12));
  });
});

describe("conv1d errors name conv1d and the argument", () => {
  it("rejects bad shapes and dtypes", () => {
    expectError(
      () => conv1d(zeros([1, 2, 1, 5]), w),
      "SHAPE_MISMATCH",
      "conv1d: x must be 3-D [N, C, L] or 2-D [C, L], got shape [1,2,1,5]",
    );
    expectError(
      () => conv1d(x, zeros([2, 2, 1, 3])),
      "SHAPE_MISMATCH",
      "conv1d: w must be 3-D [Cout, Cin/groups, k] with positive sizes, got shape [2,2,1,3]",
    );
    expectError(
      () => conv1d(x, zeros([2, 3, 3])),
      "SHAPE_MISMATCH",
      "conv1d: w expects 3 input channels per group (w is [2,3,3], groups 1) but x has 2 " +
        "channels (x is [1,2,5])",
    );
    expectError(
      () => conv1d(x, zeros([3, 1, 3]), { groups: 2 }),
      "SHAPE_MISMATCH",
      "conv1d: groups 2 must divide the 3 output channels of w (w is [3,1,3])",
    );
    expectError(
      () => conv1d(tensor([[[1, 2, 3]]], { dtype: "int32" }), w),
      "DTYPE_MISMATCH",
      "conv1d: x must be float32 or float64, got int32",
    );
    expectError(
      () => conv1d(x, w, { bias: zeros([3]) }),
      "SHAPE_MISMATCH",
      "conv1d: bias must have shape [2] (one value per output channel), got [3]",
    );
  });

  it("rejects bad geometry", () => {
    expectError(
      () => conv1d(x, w, { padding: "same", stride: 2 }),
      "INVALID_ARGUMENT",
      "conv1d: padding 'same' needs stride 1, got stride 2",
    );
    expectError(
      () => conv1d(x, w, { padding: [1, -1] }),
      "INVALID_ARGUMENT",
      "conv1d: padding must be an integer ≥ 0, a pair [left, right] of them, 'valid' or 'same', " +
        "got [1,-1]",
    );
    expectError(
      () => conv1d(x, w, { stride: 0 }),
      "INVALID_ARGUMENT",
      "conv1d: stride must be an integer ≥ 1, got 0",
    );
    expectError(
      () => conv1d(x, w, { dilation: 3 }),
      "SHAPE_MISMATCH",
      "conv1d: the length window (kernel 3, dilation 3: span 7) is larger than the padded " +
        "input length 5 (5 + padding 0+0)",
    );
  });
});
