import { describe, expect, it } from "vitest";
import {
  add,
  cos,
  customVjp,
  grad,
  jvp,
  listOps,
  mul,
  sign,
  sin,
  stack,
  sum,
  tanh,
  vmap,
  type Tensor,
} from "./index.js";
import { checkGrads } from "./testing/index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

// sin with its own rule: residual x, cotangent g·cos x.
const mySin = customVjp((x: Tensor) => sin(x), {
  fwd: (x: Tensor) => [sin(x), x] as const,
  bwd: (x: Tensor, g: Tensor) => [mul(g, cos(x))],
});

const x = f64([-1.5, 0.5, 2]);

describe("customVjp", () => {
  it("is f when called, and its bwd when differentiated (a straight-through sign)", () => {
    const ste = customVjp((x: Tensor) => sign(x), {
      fwd: (x: Tensor) => [sign(x), null] as const,
      bwd: (_: null, g: Tensor) => [g],
    });
    expect(arr(ste(x))).toEqual([-1, 1, 1]);
    // d/dx Σ sign(x)·x with the straight-through rule: sign(x) + x.
    expect(arr(grad((x: Tensor) => sum(mul(ste(x), x)))(x))).toEqual([-2.5, 1.5, 3]);
  });

  it("takes and returns trees; leaves that are not tensors are constants", () => {
    const f = customVjp(
      (p: { a: Tensor; b: Tensor; scale: number }) => ({ sum: mul(add(p.a, p.b), p.scale) }),
      {
        fwd: (p) => [{ sum: mul(add(p.a, p.b), p.scale) }, p.scale] as const,
        bwd: (scale: number, g: { sum: Tensor }) => [{ a: mul(g.sum, scale), b: null }],
      },
    );
    const [ga, gb] = grad((a: Tensor, b: Tensor) => sum(f({ a, b, scale: 3 }).sum), {
      argnums: [0, 1],
    })(x, x);
    expect(arr(ga)).toEqual([3, 3, 3]);
    expect(arr(gb)).toEqual([0, 0, 0]); // its rule gives b no gradient
  });

  it("gives second derivatives and forward mode through bwd, checked by checkGrads", () => {
    const d2 = grad((x: Tensor) => sum(grad((y: Tensor) => sum(mySin(y)))(x)))(x);
    expect(arr(d2)).toEqual([-1.5, 0.5, 2].map((v) => -Math.sin(v)));
    expect(arr(jvp(mySin, [x], [f64([1, 1, 1])])[1])).toEqual([-1.5, 0.5, 2].map(Math.cos));
    expect(() => checkGrads(mySin, [x], { order: 2, modes: ["rev", "fwd"] })).not.toThrow();
  });

  it("checkGrads catches a wrong rule", () => {
    const wrong = customVjp((x: Tensor) => sin(x), {
      fwd: (x: Tensor) => [sin(x), x] as const,
      bwd: (x: Tensor, g: Tensor) => [mul(g, sin(x))],
      name: "wrongSin",
    });
    expect(caught(() => checkGrads(wrong, [x])).code).toBe("GRADIENT_MISMATCH");
  });

  it("works under vmap, in both orders with grad", () => {
    const xs = f64([
      [1, 2],
      [3, 4],
    ]);
    const perRow = vmap(grad((v: Tensor) => sum(tanh(mySin(v)))))(xs);
    const looped = stack([f64([1, 2]), f64([3, 4])].map(grad((v: Tensor) => sum(tanh(mySin(v))))));
    expect(arr(perRow)).toEqual(arr(looped));
  });

  it("batches its rule under vmap: bwd runs once for the batch, mapped axes and shared arguments alike", () => {
    // Residuals that are not tensors (a number) reach bwd unchanged inside the mapped bwd.
    let bwdCalls = 0;
    const scaled = customVjp((p: { w: Tensor; k: number }, v: Tensor) => mul(mul(p.w, v), p.k), {
      fwd: (p: { w: Tensor; k: number }, v: Tensor) =>
        [mul(mul(p.w, v), p.k), [p.w, v, p.k]] as const,
      bwd: ([w, v, k]: readonly [Tensor, Tensor, number], g: Tensor) => {
        bwdCalls++;
        return [{ w: mul(mul(g, v), k), k: null }, mul(mul(g, w), k)];
      },
    });
    const plain = (p: { w: Tensor; k: number }, v: Tensor) => mul(mul(p.w, v), p.k);
    const w = f64([0.5, -2]);
    const vs = f64([
      [1, 3, -1],
      [2, 0.5, 4],
    ]);
    // v mapped on its last axis, the params shared: w's gradient sums over the slices.
    const loss = (fn: typeof plain) => (p: { w: Tensor; k: number }, v: Tensor) =>
      sum(tanh(vmap(fn, { inAxes: [null, 1] })(p, v)));
    const got = grad(loss(scaled), { argnums: [0, 1] })({ w, k: 3 }, vs);
    expect(bwdCalls).toBe(1);
    // An empty batch too, with residuals that are not tensors.
    const empty = grad(loss(scaled), { argnums: [0, 1] })({ w, k: 3 }, f64([], [2, 0]));
    expect(arr(empty[0].w)).toEqual([0, 0]);
    expect(empty[1].shape).toEqual([2, 0]);
    const want = grad(loss(plain), { argnums: [0, 1] })({ w, k: 3 }, vs);
    (arr(got[0].w) as number[]).forEach((g, i) =>
      expect(g).toBeCloseTo((arr(want[0].w) as number[])[i]!, 12),
    );
    (arr(got[1]) as number[][])
      .flat()
      .forEach((g, i) => expect(g).toBeCloseTo((arr(want[1]) as number[][]).flat()[i]!, 12));
  });

  it("registers nothing: two functions may share a name", () => {
    const a = customVjp((x: Tensor) => mul(x, 2), {
      fwd: (x: Tensor) => [mul(x, 2), null] as const,
      bwd: (_: null, g: Tensor) => [mul(g, 2)],
      name: "double",
    });
    const b = customVjp((x: Tensor) => mul(x, 3), {
      fwd: (x: Tensor) => [mul(x, 3), null] as const,
      bwd: (_: null, g: Tensor) => [mul(g, 3)],
      name: "double",
    });
    expect(arr(grad((x: Tensor) => sum(add(a(x), b(x))))(x))).toEqual([5, 5, 5]);
    expect(listOps().some((op) => op.definition.name === "double")).toBe(false);
  });

  it("errors name the rule, the argument and what was expected", () => {
    const tooMany = customVjp((x: Tensor) => mul(x, 2), {
      fwd: (x: Tensor) => [mul(x, 2), null] as const,
      bwd: (_: null, g: Tensor) => [g, g],
      name: "tooMany",
    });
    expect(caught(() => grad((x: Tensor) => sum(tooMany(x)))(x)).message).toMatch(
      /^tooMany: bwd must return one cotangent per argument \(1\), got/,
    );
    const wrongShape = customVjp((x: Tensor) => mul(x, 2), {
      fwd: (x: Tensor) => [mul(x, 2), null] as const,
      bwd: (_: null, g: Tensor) => [sum(g)],
      name: "wrongShape",
    });
    expect(caught(() => grad((x: Tensor) => sum(wrongShape(x)))(x)).message).toMatch(
      /^wrongShape: vjp returned a gradient of shape \[\] for input input 0 of shape \[3\]/,
    );
    const notATensor = customVjp((x: Tensor) => x, {
      fwd: () => ["label" as unknown as Tensor, null] as const,
      bwd: () => [null],
      name: "notATensor",
    });
    expect(caught(() => grad((x: Tensor) => sum(notATensor(x) as Tensor))(x)).message).toBe(
      "notATensor: the function must return a tensor or a tree of tensors, got label",
    );
  });
});
