import { describe, expect, it } from "vitest";
import {
  checkGrads,
  grad,
  mul,
  std,
  sum,
  tensor,
  variance,
  vmap,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

// The docs example of torch.var and torch.std (PyTorch 1.13), values to 4 decimals.
// prettier-ignore
const docs = f64([
  [0.2035, 1.2959, 1.8101, -0.4644],
  [1.5027, -0.327, 0.5905, 0.6538],
  [-1.5745, 1.333, -0.5596, -0.6548],
  [0.1264, -0.508, 1.642, 0.1992],
]);

const grid = f64([
  [1, 2, 3],
  [4, 6, 8],
]);

describe("variance", () => {
  it("divides by N − 1 by default and by N with correction 0 (the torch.var docs' definition)", () => {
    // [1, 2, 3, 4]: mean 2.5, Σ(x − mean)² = 2.25 + 0.25 + 0.25 + 2.25 = 5, by hand.
    expectValues(variance(f64([1, 2, 3, 4])), [], [5 / 3]);
    expectValues(variance(f64([1, 2, 3, 4]), { correction: 0 }), [], [1.25]);
    expectValues(variance(f64([1, 2, 3, 4]), { correction: 2 }), [], [2.5]);
  });

  it("matches the torch.var docs example along dim 1 with keepdim", () => {
    // torch.var(a, 1, keepdim=True) = [[1.0631], [0.5590], [1.4893], [0.8258]] (torch.var docs).
    expectValues(
      variance(docs, { axis: 1, keepdims: true }),
      [4, 1],
      [1.0631, 0.559, 1.4893, 0.8258],
      4,
    );
  });

  it("reduces over one axis, negative axes and lists of axes", () => {
    // PyTorch 1.13: torch.var(g, dim=0) = [4.5, 8, 12.5]; torch.var(g, dim=(0, 1),
    // correction=0) = 34/6; torch.var(g, dim=-1, keepdim=True, correction=2) = [[2], [8]].
    expectValues(variance(grid, { axis: 0 }), [3], [4.5, 8, 12.5]);
    expectValues(variance(grid, { axis: [0, 1], correction: 0 }), [], [34 / 6]);
    expectValues(variance(grid, { axis: -1, keepdims: true, correction: 2 }), [2, 1], [2, 8]);
    expectValues(variance(grid, { axis: [], correction: 0 }), [2, 3], [0, 0, 0, 0, 0, 0]);
  });

  it("gives ∞ or NaN where N − correction ≤ 0, as PyTorch does (it clamps the divisor at 0)", () => {
    // PyTorch 1.13: torch.var(torch.tensor([1., 2]), dim=0, correction=2) and correction=3
    // are inf; torch.var(torch.tensor([1., 1]), dim=0, correction=2) is nan; torch.var of one
    // element, and of an empty tensor, is nan.
    expectValues(variance(f64([1, 2]), { correction: 2 }), [], [Infinity]);
    expectValues(variance(f64([1, 2]), { correction: 3 }), [], [Infinity]);
    expectValues(variance(f64([1, 1]), { correction: 2 }), [], [NaN]);
    expectValues(variance(f64([5])), [], [NaN]);
    expectValues(variance(zeros([0], "float64")), [], [NaN]);
    expectValues(variance(zeros([0, 3], "float64"), { axis: 0 }), [3], [NaN, NaN, NaN]);
  });

  it("keeps float dtypes and computes int32 in float32", () => {
    expect(variance(tensor([1, 2], { dtype: "float32" })).dtype).toBe("float32");
    expect(variance(grid).dtype).toBe("float64");
    const y = variance(tensor([1, 2, 3, 4], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expectValues(y, [], [5 / 3], 6);
  });

  it("has gradient 2(x − mean)/(N − correction)", () => {
    // [1, 2, 4]: mean 7/3, so with N − 1 = 2 the gradient is x − mean = [−4/3, −1/3, 5/3]
    // (by hand; PyTorch 1.13's torch.var(x).backward() gives the same).
    const dx = grad((x: Tensor) => variance(x))(f64([1, 2, 4]));
    expectValues(dx, [3], [-4 / 3, -1 / 3, 5 / 3]);
  });

  it("passes gradient checks over axes, keepdims and corrections, to second order", () => {
    const x = f64([
      [0.3, -1.2, 2.1],
      [1.7, 0.4, -0.9],
    ]);
    const weights = f64([0.5, -2, 1.5]);
    checkGrads((t: Tensor) => variance(t), [x], { order: 2 });
    checkGrads((t: Tensor) => mul(variance(t, { axis: 0, correction: 0 }), weights), [x], {
      order: 2,
    });
    checkGrads((t: Tensor) => variance(t, { axis: -1, keepdims: true, correction: 2 }), [x], {
      order: 2,
      modes: ["rev", "fwd"],
    });
  });

  it("maps over a batch (vmap) slice by slice", () => {
    const y = vmap((x: Tensor) => variance(x, { correction: 0 }), { inAxes: [1] })(grid);
    // The columns [1, 4], [2, 6], [3, 8] with correction 0: 2.25, 4, 6.25, by hand.
    expectValues(y, [3], [2.25, 4, 6.25]);
  });

  it("rejects a correction that is not a non-negative integer, naming it", () => {
    const x = f64([1, 2, 3]);
    const message = (got: string) =>
      `variance: correction must be a non-negative integer, got ${got}`;
    expectError(() => variance(x, { correction: -1 }), "INVALID_ARGUMENT", message("-1"));
    expectError(() => variance(x, { correction: 0.5 }), "INVALID_ARGUMENT", message("0.5"));
    expectError(
      () => variance(x, { correction: "1" as unknown as number }),
      "INVALID_ARGUMENT",
      message("1"),
    );
    expectError(
      () => variance(x, { axis: 1 }),
      "INVALID_ARGUMENT",
      "variance: axis 1 is out of range for a tensor of rank 1",
    );
  });
});

describe("std", () => {
  it("is the square root of the variance", () => {
    expectValues(std(f64([1, 2, 3, 4])), [], [Math.sqrt(5 / 3)]);
    // PyTorch 1.13: torch.std(g, dim=1) = [1, 2].
    expectValues(std(grid, { axis: 1 }), [2], [1, 2]);
    // torch.std(a, dim=1, keepdim=True) = [[1.0311], [0.7477], [1.2204], [0.9087]] (torch.std docs).
    expectValues(
      std(docs, { axis: 1, keepdims: true }),
      [4, 1],
      [1.0311, 0.7477, 1.2204, 0.9087],
      4,
    );
    // PyTorch 1.13: torch.std(torch.tensor([1., 2]), dim=0, correction=3) is inf.
    expectValues(std(f64([1, 2]), { correction: 3 }), [], [Infinity]);
  });

  it("has gradient (x − mean)/((N − correction)·std), and 0 (not NaN) on a constant slice", () => {
    // [1, 2, 4] with correction 0: variance 14/9, std √14/3, so the gradient is
    // (x − 7/3)/√14 (by hand; PyTorch 1.13 gives [−0.3563, −0.0891, 0.4454]).
    const dx = grad((x: Tensor) => std(x, { correction: 0 }))(f64([1, 2, 4]));
    expectValues(
      dx,
      [3],
      [-4 / 3, -1 / 3, 5 / 3].map((d) => d / Math.sqrt(14)),
    );
    // PyTorch 1.13: torch.std(torch.zeros(3)).backward() gives [0, 0, 0].
    expectValues(grad((x: Tensor) => std(x))(f64([2, 2, 2])), [3], [0, 0, 0]);
    const rows = f64([
      [1, 1],
      [1, 3],
    ]);
    const dRows = grad((x: Tensor) => sum(std(x, { axis: 1 })))(rows);
    // Row 0 is constant (gradient 0); row 1: std = √2, (x − 2)/(1·√2) = ∓1/√2.
    expectValues(dRows, [2, 2], [0, 0, -Math.SQRT1_2, Math.SQRT1_2]);
  });

  it("passes gradient checks, to second order", () => {
    const x = f64([
      [0.3, -1.2, 2.1],
      [1.7, 0.4, -0.9],
    ]);
    checkGrads((t: Tensor) => std(t, { axis: 1 }), [x], { order: 2, modes: ["rev", "fwd"] });
    checkGrads((t: Tensor) => std(t, { correction: 0 }), [x], { order: 2 });
  });

  it("reports bad arguments as std's", () => {
    expectError(
      () => std(f64([1, 2]), { correction: -2 }),
      "INVALID_ARGUMENT",
      "std: correction must be a non-negative integer, got -2",
    );
    expectError(
      () => std("x" as unknown as Tensor),
      "INVALID_ARGUMENT",
      "std: x must be a Tensor or a number, got x",
    );
    expectError(
      () => std(f64([1, 2]), { axis: [0, 0] }),
      "INVALID_ARGUMENT",
      "std: axis 0 is repeated in [0,0]",
    );
  });
});
