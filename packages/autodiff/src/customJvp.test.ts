import { describe, expect, it } from "vitest";
import {
  add,
  customJvp,
  div,
  exp,
  grad,
  jvp,
  listOps,
  log1p,
  mul,
  sigmoid,
  stack,
  sum,
  tanh,
  vmap,
  type Tensor,
} from "./index.js";
import { checkGrads } from "./testing/index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

// log(1 + eˣ) whose derivative, written directly as sigmoid, stays finite where eˣ overflows:
// differentiating the ops themselves gives eˣ/(1 + eˣ) = ∞/∞ = NaN at x = 800.
const softplus = customJvp((x: Tensor) => log1p(exp(x)), {
  jvp: ([x], [t]) => [log1p(exp(x)), mul(t, sigmoid(x))],
});
const x = f64([-3, -0.5, 0.25, 2]);
const flat = (t: Tensor) => (arr(t) as number[][]).flat();

describe("customJvp", () => {
  it("is f when called, and its rule under jvp and (transposed) under grad", () => {
    expect(arr(softplus(x))).toEqual(arr(log1p(exp(x))));
    const t = f64([1, 2, -1, 0.5]);
    const [, tangent] = jvp(softplus, [x], [t]);
    (arr(tangent) as number[]).forEach((v, i) =>
      expect(v).toBeCloseTo((arr(t) as number[])[i]! * (arr(sigmoid(x)) as number[])[i]!, 14),
    );
    expect(arr(grad((v: Tensor) => sum(softplus(v)))(x))).toEqual(arr(sigmoid(x)));
    const big = f64([800]);
    expect(arr(grad((v: Tensor) => sum(log1p(exp(v))))(big))).toEqual([NaN]);
    expect(arr(grad((v: Tensor) => sum(softplus(v)))(big))).toEqual([1]);
  });

  it("gives second order in both modes, checked by checkGrads; a wrong rule fails it", () => {
    checkGrads(softplus, [x], { order: 2, modes: ["rev", "fwd"] });
    const wrong = customJvp((v: Tensor) => tanh(v), { jvp: ([v], [t]) => [tanh(v), t] });
    expect(() => checkGrads(wrong, [x])).toThrow(/gradient/);
  });

  it("takes trees with constant leaves and several outputs", () => {
    // f(p, k) = { scaled: p.a·k, ratio: p.a / p.b }, its tangent by the quotient rule.
    const f = customJvp(
      (p: { a: Tensor; b: Tensor }, k: number) => ({ scaled: mul(p.a, k), ratio: div(p.a, p.b) }),
      {
        jvp: ([p, k], [dp]) => [
          { scaled: mul(p.a, k), ratio: div(p.a, p.b) },
          {
            scaled: mul(dp.a, k),
            ratio: div(add(mul(dp.a, p.b), mul(mul(p.a, -1), dp.b)), mul(p.b, p.b)),
          },
        ],
      },
    );
    const p = { a: f64([1, 2]), b: f64([4, -3]) };
    checkGrads((q: { a: Tensor; b: Tensor }) => f(q, 3), [p], { order: 2, modes: ["rev", "fwd"] });
    const g = grad((q: { a: Tensor; b: Tensor }) => sum(add(f(q, 3).scaled, f(q, 3).ratio)))(p);
    expect(arr(g.a)).toEqual([3 + 1 / 4, 3 - 1 / 3]);
  });

  it("works under vmap in both orders with grad, with the rule batched", () => {
    let ruleCalls = 0;
    const counted = customJvp((v: Tensor) => log1p(exp(v)), {
      jvp: ([v], [t]) => {
        ruleCalls++;
        return [log1p(exp(v)), mul(t, sigmoid(v))];
      },
    });
    const rows = f64([
      [1, -2],
      [0.5, 3],
      [-1, 0],
    ]);
    const perRow = vmap(grad((v: Tensor) => sum(tanh(counted(v)))))(rows);
    expect(ruleCalls).toBe(1);
    const looped = stack(
      [f64([1, -2]), f64([0.5, 3]), f64([-1, 0])].map(grad((v: Tensor) => sum(tanh(softplus(v))))),
    );
    flat(perRow).forEach((v, i) => expect(v).toBeCloseTo(flat(looped)[i]!, 14));
    const outside = grad((m: Tensor) => sum(tanh(vmap(softplus)(m))))(rows);
    flat(outside).forEach((v, i) => expect(v).toBeCloseTo(flat(looped)[i]!, 14));
  });

  it("registers nothing, and errors name the rule and what was expected", () => {
    expect(listOps().some((op) => op.definition.name.startsWith("custom"))).toBe(false);
    const wrongShape = customJvp((v: Tensor) => mul(v, 2), {
      jvp: ([v], [t]) => [mul(v, 2), sum(t)],
      name: "wrongShape",
    });
    expect(caught(() => grad((v: Tensor) => sum(wrongShape(v)))(x)).message).toMatch(
      /^wrongShape: jvp returned the tangent of shape \[\], expected \[4\] \(the result's\)/,
    );
    const noTangent = customJvp((v: Tensor) => ({ y: mul(v, 2) }), {
      jvp: ([v]) => [{ y: mul(v, 2) }, { y: null as unknown as Tensor }],
      name: "noTangent",
    });
    expect(caught(() => grad((v: Tensor) => sum(noTangent(v).y))(x)).message).toMatch(
      /^noTangent: jvp must return \[result, tangent\] .* the tangent's y is null, expected a tensor of shape \[4\]/,
    );
    expect(caught(() => customJvp((v: Tensor) => v, {} as never)).message).toMatch(
      /^customJvp: expected f and a jvp function/,
    );
  });
});
