import { describe, expect, it } from "vitest";
import {
  arange,
  checkGrads,
  grad,
  norm,
  reshape,
  sub,
  sum,
  tensor,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

const v = f64([0, -2, 1, 2]);

describe("norm", () => {
  it("computes each order of torch.linalg.vector_norm", () => {
    // By hand: √(0 + 4 + 1 + 4) = 3; Σ|x| = 5; max|x| = 2; min|x| = 0; 3 non-zeros;
    // (0 + √2 + 1 + √2)² = 9 + 4√2; (8 + 1 + 8)^(1/3) = 17^(1/3).
    expectValues(norm(v), [], [3]);
    expectValues(norm(v, { ord: 2 }), [], [3]);
    expectValues(norm(v, { ord: 1 }), [], [5]);
    expectValues(norm(v, { ord: Infinity }), [], [2]);
    expectValues(norm(v, { ord: -Infinity }), [], [0]);
    expectValues(norm(v, { ord: 0 }), [], [3]);
    expectValues(norm(v, { ord: 0.5 }), [], [9 + 4 * Math.SQRT2]);
    expectValues(norm(v, { ord: 3 }), [], [Math.cbrt(17)]);
  });

  it("matches the torch.linalg.vector_norm docs example with ord 3.5", () => {
    // a = torch.arange(9, dtype=torch.float) - 4; LA.vector_norm(a, ord=3.5) = 5.4345, and
    // the same for a reshaped to 3×3 (torch.linalg.vector_norm docs).
    const a = sub(arange(0, 9, 1, "float64"), 4);
    expectValues(norm(a, { ord: 3.5 }), [], [5.4345], 4);
    expectValues(norm(reshape(a, [3, 3]), { ord: 3.5 }), [], [5.4345], 4);
  });

  it("reduces over the given axes, with keepdims", () => {
    const x = f64([
      [3, 4],
      [1, -1],
    ]);
    // PyTorch 1.13: vector_norm(x, 2, dim=1) = [5, √2]; vector_norm(x, 1, dim=0, keepdim=True)
    // = [[4, 5]].
    expectValues(norm(x, { axis: 1 }), [2], [5, Math.SQRT2]);
    expectValues(norm(x, { ord: 1, axis: 0, keepdims: true }), [1, 2], [4, 5]);
    expectValues(norm(x, { ord: Infinity, axis: -1 }), [2], [4, 1]);
    expectValues(norm(x, { axis: [0, 1], keepdims: true }), [1, 1], [Math.sqrt(27)]);
  });

  it("is 0 for an empty tensor, except the ±∞ norms, which have no identity", () => {
    // PyTorch 1.13: vector_norm(torch.empty(0), 2) and (…, 0) are 0; the inf norm raises.
    expectValues(norm(zeros([0], "float64")), [], [0]);
    expectValues(norm(zeros([0], "float64"), { ord: 0 }), [], [0]);
    expectValues(norm(zeros([2, 0], "float64"), { ord: Infinity, axis: 0 }), [0], []);
    expectError(
      () => norm(zeros([2, 0]), { ord: Infinity }),
      "SHAPE_MISMATCH",
      "norm: cannot take the Infinity norm of x of shape [2,0] over axis 1 of size 0: " +
        "the maximum of no elements is undefined",
    );
  });

  it("keeps float dtypes and computes int32 in float32", () => {
    expect(norm(tensor([3, 4], { dtype: "float32" })).dtype).toBe("float32");
    const y = norm(tensor([3, -4], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expectValues(y, [], [5]);
    expect(norm(tensor([3, 0], { dtype: "int32" }), { ord: 0 }).dtype).toBe("float32");
  });

  it("has PyTorch's gradients, 0 at zero elements", () => {
    // PyTorch 1.13, torch.linalg.vector_norm(x, ord).backward() at x = [0, −2, 1, 2].
    const expected: [number, number[]][] = [
      [0.5, [0, -2.7071067811865475, 3.8284271247461903, 2.7071067811865475]],
      [1, [0, -1, 1, 1]],
      [1.5, [0, -0.7517821014438997, 0.5315902219056543, 0.7517821014438997]],
      [2, [0, -2 / 3, 1 / 3, 2 / 3]],
      [3, [0, -0.6050074330960551, 0.15125185827401377, 0.6050074330960551]],
      // The tie between −2 and 2 splits dy, as PyTorch's amax backward does.
      [Infinity, [0, -0.5, 0, 0.5]],
      [-Infinity, [0, 0, 0, 0]],
      // A count: its gradient is zero.
      [0, [0, 0, 0, 0]],
    ];
    for (const [ord, dx] of expected) {
      expectValues(grad((x: Tensor) => norm(x, { ord }))(v), [4], dx);
    }
  });

  it("has gradient 0, not NaN, at an all-zero input, for every order (as PyTorch)", () => {
    // PyTorch 1.13: vector_norm(torch.zeros(3), ord).backward() gives [0, 0, 0] for each ord.
    for (const ord of [0.5, 1, 1.5, 2, 3, Infinity, -Infinity, 0]) {
      expectValues(grad((x: Tensor) => norm(x, { ord }))(zeros([3], "float64")), [3], [0, 0, 0]);
    }
    const rows = f64([
      [0, 0],
      [3, 4],
    ]);
    // Row 0 is zero (gradient 0), row 1 has gradient x/‖x‖ = [0.6, 0.8].
    expectValues(grad((x: Tensor) => sum(norm(x, { axis: 1 })))(rows), [2, 2], [0, 0, 0.6, 0.8]);
  });

  it("passes gradient checks away from zeros and ties", () => {
    const x = f64([
      [0.7, -1.3, 2.2],
      [-0.4, 1.9, 0.6],
    ]);
    for (const ord of [1, 2, 3, 0.5, 1.5]) {
      checkGrads((t: Tensor) => norm(t, { ord }), [x], { name: `norm ord ${ord}` });
      checkGrads((t: Tensor) => norm(t, { ord, axis: 1 }), [x], { name: `norm ord ${ord}` });
    }
    checkGrads((t: Tensor) => norm(t, { ord: Infinity, axis: 0 }), [x]);
    checkGrads((t: Tensor) => norm(t, { ord: -Infinity, axis: -1, keepdims: true }), [x]);
    for (const ord of [2, 3, 1.5]) {
      checkGrads((t: Tensor) => norm(t, { ord, axis: 0 }), [x], {
        order: 2,
        modes: ["rev", "fwd"],
      });
    }
  });

  it("rejects a bad ord, axis or x, naming the argument", () => {
    const ordMessage = (got: string) =>
      `norm: ord must be 0, a positive number, Infinity or -Infinity, got ${got}`;
    expectError(() => norm(v, { ord: -1 }), "INVALID_ARGUMENT", ordMessage("-1"));
    expectError(() => norm(v, { ord: NaN }), "INVALID_ARGUMENT", ordMessage("NaN"));
    expectError(
      () => norm(v, { ord: "fro" as unknown as number }),
      "INVALID_ARGUMENT",
      ordMessage("fro"),
    );
    expectError(
      () => norm(v, { axis: 1 }),
      "INVALID_ARGUMENT",
      "norm: axis 1 is out of range for a tensor of rank 1",
    );
    expectError(
      () => norm([1, 2] as unknown as Tensor),
      "INVALID_ARGUMENT",
      "norm: x must be a Tensor or a number, got [1,2]",
    );
    expectError(
      () => norm(v, 2 as unknown as object),
      "INVALID_ARGUMENT",
      "norm: options must be an object, got 2",
    );
  });
});
