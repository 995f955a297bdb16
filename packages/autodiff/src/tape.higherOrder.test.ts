import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  add,
  cos,
  div,
  exp,
  grad,
  mean,
  mul,
  sin,
  square,
  sum,
  vjp,
  type Tensor,
} from "./index.js";
import { isTracing } from "./tape.js";
import { f64 } from "../test/helpers.js";
import { arr, num } from "../test/values.js";

describe("higher-order derivatives", () => {
  it("grad(grad(x³)) at 2 is 12", () => {
    expect(num(grad(grad((x: Tensor) => mul(x, mul(x, x))))(f64(2)))).toBe(12);
  });

  it("grad(grad(sin)) = −sin and grad³(sin) = −cos (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: -4, max: 4, noNaN: true }), (x) => {
        expect(num(grad(grad(sin))(f64(x)))).toBeCloseTo(-Math.sin(x), 12);
        expect(num(grad(grad(grad(sin)))(f64(x)))).toBeCloseTo(-Math.cos(x), 12);
      }),
      { numRuns: 30 },
    );
  });

  it("second derivatives through numbers: d²/dx² x³ at 2 is 12, returned as a number", () => {
    const g2 = grad(grad((x: number) => mul(x, mul(x, x))))(2);
    expect(typeof g2).toBe("number");
    expect(g2).toBe(12);
  });

  it("second derivatives of compositions match the closed form", () => {
    // f = exp(sin x): f'' = exp(sin x)(cos² x − sin x).
    const x = 0.3;
    const expected = Math.exp(Math.sin(x)) * (Math.cos(x) ** 2 - Math.sin(x));
    expect(num(grad(grad((v: Tensor) => exp(sin(v))))(f64(x)))).toBeCloseTo(expected, 12);
    // f = x / (1 + x²) via div: f'' = 2x(x² − 3)/(1 + x²)³.
    const h = (v: Tensor) => div(v, add(1, square(v)));
    expect(num(grad(grad(h))(f64(x)))).toBeCloseTo((2 * x * (x * x - 3)) / (1 + x * x) ** 3, 12);
  });

  it("Hessian-vector product as ∇⟨∇f, v⟩ matches the explicit Hessian", () => {
    // f(x) = x0²·x1 + x1²·x2, picking components with one-hot dot products.
    const pick = (x: Tensor, i: number) =>
      sum(mul(x, f64([0, 1, 2].map((j) => (j === i ? 1 : 0)))));
    const g = (x: Tensor) => {
      const [x0, x1, x2] = [pick(x, 0), pick(x, 1), pick(x, 2)];
      return add(mul(square(x0), x1), mul(square(x1), x2));
    };
    const x0 = f64([1, 2, 3]);
    const v = f64([0.5, -1, 2]);
    const hvp = grad((x: Tensor) => sum(mul(grad(g)(x) as Tensor, v)))(x0);
    // H = [[2x1, 2x0, 0], [2x0, 2x2, 2x1], [0, 2x1, 0]] at (1, 2, 3).
    const H = [
      [4, 2, 0],
      [2, 6, 4],
      [0, 4, 0],
    ];
    const vv = [0.5, -1, 2];
    const expected = H.map((row) => row.reduce((s, h, j) => s + h * vv[j]!, 0));
    expect(arr(hvp)).toEqual(expected);
  });

  it("perturbation confusion: d/dx [x · d/dy (x + y)] = 1 at any x", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        (x, y) => {
          const inner = (xv: Tensor) => grad((yv: Tensor) => add(xv, yv))(f64(y)) as Tensor;
          expect(num(grad((xv: Tensor) => mul(xv, inner(xv)))(f64(x)))).toBe(1);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("perturbation confusion: d/dx [x · d/dy (x·y)] = 2x", () => {
    const g = grad((x: Tensor) => mul(x, grad((y: Tensor) => mul(x, y))(f64(5)) as Tensor))(f64(3));
    expect(num(g)).toBe(6);
  });

  it("perturbation confusion: an inner grad over a different argument of the same function", () => {
    // d/dx [ d/dy (x²·y²) at y=1 ] = d/dx [2x²] = 4x.
    const g = grad((x: Tensor) => grad((y: Tensor) => mul(square(x), square(y)))(f64(1)) as Tensor)(
      f64(1.5),
    );
    expect(num(g)).toBe(6);
  });

  // BUG (transforms.ts, `gradientTree`): the gradient for a *number* argument is returned as
  // `plain(g).item()`, which strips every trace level. When the inner grad runs inside an outer
  // transform whose variable it depends on, that dependence is silently dropped: here the inner
  // d/dy (x·y) = x becomes the constant 2, and the outer derivative of x·x comes out 2 instead of 4.
  // Fix: when `live(g).trace !== null` (an outer level still traces it), return the tensor (or
  // throw an INVALID_STATE error asking for a tensor argument) instead of converting to a number.
  it("an inner grad over a number argument keeps its dependence on an outer grad's variable", () => {
    let result: number | undefined;
    let threw = false;
    try {
      result = num(grad((x: Tensor) => mul(x, grad((y: number) => mul(x, y))(3)))(f64(2)));
    } catch {
      threw = true;
    }
    expect(threw || result === 4).toBe(true);
  });

  it("cos is consistent: grad(grad(cos)) = −cos", () => {
    expect(num(grad(grad(cos))(f64(0.4)))).toBeCloseTo(-Math.cos(0.4), 14);
  });

  it("nested grads with trees and means", () => {
    // L(w) = mean(w²)·Σw; check a second derivative component numerically.
    const L = (w: Tensor) => mul(mean(square(w)), sum(w));
    const w0 = [0.2, -0.4, 0.9];
    const dLdw0 = (w: Tensor) => sum(mul(grad(L)(w) as Tensor, f64([1, 0, 0])));
    const analytic = arr(grad(dLdw0)(f64(w0))) as number[];
    const eps = 1e-6;
    const numeric = w0.map((_, j) => {
      const plus = [...w0];
      const minus = [...w0];
      plus[j]! += eps;
      minus[j]! -= eps;
      return (num(dLdw0(f64(plus))) - num(dLdw0(f64(minus)))) / (2 * eps);
    });
    analytic.forEach((a, j) => expect(a).toBeCloseTo(numeric[j]!, 6));
  });

  it("leaves no trace open after nested transforms", () => {
    grad(grad(sin))(f64(1));
    vjp((x: Tensor) => grad(sin)(x), f64(1))[1](f64(1));
    expect(isTracing()).toBe(false);
  });
});
