import { describe, expect, it } from "vitest";
import { add, cast, grad, mul, reshape, sum, transpose, type Tensor } from "./index.js";
import { isTracing } from "./tape.js";
import { caught, f64 } from "../test/helpers.js";
import { arr, num } from "../test/values.js";

describe("grad input checks", () => {
  it("grad of a non-scalar function throws, showing the shape", () => {
    const e = caught(() => grad((x: Tensor) => mul(x, 2))(f64([1, 2, 3])));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(
      /^grad: f must return a scalar \(one element\) to take its gradient, got shape \[3\]; use vjp/,
    );
    expect(
      caught(() => grad((x: Tensor) => reshape(x, [2, 2]))(f64([1, 2, 3, 4]))).message,
    ).toMatch(/got shape \[2,2\]/);
  });

  it("grad rejects non-tensor and int32 results", () => {
    expect(caught(() => grad((x: Tensor) => ({ y: x }) as never)(f64(1))).message).toMatch(
      /^grad: f must return a scalar tensor, got a tree/,
    );
    expect(caught(() => grad((_x: Tensor) => "s" as never)(f64(1))).message).toMatch(/got string/);
    expect(caught(() => grad((x: Tensor) => cast(x, "int32"))(f64(1))).message).toMatch(
      /^grad: f must return a float tensor, got int32/,
    );
  });

  it("any one-element result counts as a scalar", () => {
    expect(arr(grad((x: Tensor) => sum(x, { keepdims: true }))(f64([[1, 2]])))).toEqual([[1, 1]]);
    expect(arr(grad((x: Tensor) => mul(reshape(x, [1, 1]), 3))(f64([2])))).toEqual([3]);
  });

  // BUG (transforms.ts, `valueAndGrad`): backward is seeded with `full([], 1, …)`, a rank-0
  // cotangent, even when f's one-element result has shape [1,1]. vjp rules then receive a dy whose
  // shape differs from y's: grad(x => x) returns a [] gradient for a [1,1] argument, and
  // grad(x => transpose(x)) throws "transpose: perm must be a permutation of 0…-1, got [1,0]".
  // Fix: seed with `full(value.shape, 1, value.dtype)`.
  it("the gradient of a one-element non-scalar output has the argument's shape", () => {
    expect((grad((x: Tensor) => x)(f64([[3]])) as Tensor).shape).toEqual([1, 1]);
  });

  it("grad of transpose of a [1,1] tensor works", () => {
    expect(arr(grad((x: Tensor) => transpose(x))(f64([[3]])))).toEqual([[1]]);
  });

  it("an exception inside f closes the trace, and later transforms work", () => {
    let leaked: Tensor | undefined;
    expect(() =>
      grad((x: Tensor) => {
        leaked = mul(x, 2);
        throw new Error("boom");
      })(f64(1)),
    ).toThrow("boom");
    expect(isTracing()).toBe(false);
    expect(num(add(leaked!, 1))).toBe(3);
    expect(num(grad((x: Tensor) => mul(x, leaked!))(f64(5)))).toBe(2);
  });
});
