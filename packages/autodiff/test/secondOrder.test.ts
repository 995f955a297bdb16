import { readdirSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  add,
  convTranspose2d,
  cos,
  defineOp,
  getOp,
  grad,
  hvp,
  mul,
  sin,
  square,
  stopGradient,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  vjp,
  type Tensor,
  type TensorLike,
} from "../src/index.js";
import { isTracing } from "../src/tape.js";
import {
  GradientMismatchError,
  checkGrads,
  checkOpGradients,
  differentiableOps,
} from "../src/testing/index.js";
import { caught } from "./helpers.js";

// Second derivatives of every registered op (the vjp of each vjp, in reverse and forward mode),
// nested reverse mode in all its combinations, and the checker's power to catch what only
// second-order or forward-mode checks can see.

const customOps = new URL("./custom-ops/", import.meta.url);
for (const file of readdirSync(customOps).filter((f) => f.endsWith(".ts"))) {
  await import(new URL(file, customOps).href);
}

const f64 = (v: number | number[]) => tensor(v, { dtype: "float64" });
const num = (t: unknown) => (t as Tensor).item();

// Broken on purpose, to show what the checks catch; excluded from the registry suite by prefix.
const BROKEN = "secondOrderTest_";

// x³ whose vjp freezes 3x²: first derivatives are right, second derivatives are 0.
const frozenCube = defineOp({
  name: `${BROKEN}frozenCube`,
  inputs: ["x"],
  forward: ([x]) =>
    tensor(
      x.data.map((v) => v ** 3),
      { shape: x.shape, dtype: "float64" },
    ),
  vjp: ({ dy, inputs: [x] }) => [mul(dy, stopGradient(mul(3, square(x))))],
  samples: (kit) =>
    kit.anyTensor({}, { min: 0.5, max: 2 }).map((x) => ({ inputs: [x], attrs: {} })),
});

// sin whose vjp detaches dy: reverse mode of first order is right; the pullback is no longer a
// traced linear map of dy, so jvp (its transpose) comes out 0.
const detachedSin = defineOp({
  name: `${BROKEN}detachedSin`,
  inputs: ["x"],
  forward: ([x]) => sin(x),
  vjp: ({ dy, inputs: [x] }) => [mul(stopGradient(dy), cos(x))],
  samples: (kit) => kit.anyTensor().map((x) => ({ inputs: [x], attrs: {} })),
});

const ops = differentiableOps().filter((op) => !op.definition.name.startsWith(BROKEN));

describe("every registered op's second derivatives and jvp match finite differences (float64)", () => {
  it("the suite covers the convolution, pooling and batch-norm families and the user ops", () => {
    const names = ops.map((op) => op.definition.name);
    for (const name of [
      "conv2d",
      "conv2dBackpropInput",
      "conv2dBackpropFilter",
      "maxPool2d",
      "avgPool2d",
      "avgPool2dBackward",
      "fusedConv2dBackward",
      "batchNormParamGrad",
      "channelMoments",
      "cube",
      "sinCos",
    ]) {
      expect(names).toContain(name);
    }
  });

  for (const op of ops) {
    it(op.definition.name, () =>
      checkOpGradients(op, { numRuns: 25, order: 2, modes: ["rev", "fwd"] }),
    );
  }

  // convTranspose2d is not an op of its own: it applies conv2dBackpropInput with negative padding
  // after (outputPadding) and adds the bias, so it is checked here as a function.
  it("convTranspose2d (stride, padding, outputPadding, dilation, groups, bias)", () => {
    const pair = (min: number, max: number) =>
      fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));
    const cases = fc
      .record({
        groups: fc.constantFrom(1, 2),
        kernel: pair(1, 3),
        stride: pair(1, 2),
        dilation: pair(1, 2),
        padding: pair(0, 1),
        extra: pair(0, 1),
        size: pair(1, 3),
        seed: fc.integer({ min: 0, max: 1000 }),
      })
      .filter((c) => c.padding.every((p, a) => 2 * p < c.dilation[a]! * (c.kernel[a]! - 1) + 1));
    fc.assert(
      fc.property(cases, (c) => {
        const outputPadding = c.extra.map((e, a) =>
          Math.min(e, Math.max(c.stride[a]!, c.dilation[a]!) - 1),
        ) as [number, number];
        const cin = 2 * c.groups;
        const xs = tensor(
          Array.from({ length: cin * c.size[0] * c.size[1] }, (_, i) => Math.sin(i + c.seed)),
          { shape: [1, cin, ...c.size], dtype: "float64" },
        );
        const w = tensor(
          Array.from({ length: cin * c.kernel[0] * c.kernel[1] }, (_, i) => Math.cos(i * c.seed)),
          { shape: [cin, 1, ...c.kernel], dtype: "float64" },
        );
        const bias = f64(Array.from({ length: c.groups }, (_, i) => 0.1 * i - 0.2));
        checkGrads(
          (xv: Tensor, wv: Tensor, bv: Tensor) =>
            convTranspose2d(xv, wv, {
              bias: bv,
              stride: c.stride,
              dilation: c.dilation,
              padding: c.padding,
              outputPadding,
              groups: c.groups,
            }),
          [xs, w, bias],
          { order: 2, modes: ["rev", "fwd"], name: "convTranspose2d" },
        );
      }),
      { numRuns: 15 },
    );
  });
});

describe("the checks catch what first-order reverse mode cannot", () => {
  const x = f64([0.7, 1.3]);

  it("a vjp that is right but not differentiable passes order 1 and fails order 2", () => {
    expect(checkGrads(frozenCube, [x]).checked).toBe(2);
    const e = caught(() => checkGrads(frozenCube, [x], { order: 2 })) as GradientMismatchError;
    expect(e.code).toBe("GRADIENT_MISMATCH");
    expect(e.message).toMatch(
      /^checkGrads \(order 2: the vjp \(args, ct\) ↦ ∂⟨f\(args\), ct⟩\/∂args\): reverse-mode gradient \(vjp\) disagrees with finite differences at args\[0\]\[0\] /,
    );
    // The search checks each op's vjp rule as a function and finds the frozen one.
    expect(e.faultyOps[0]).toMatchObject({ op: frozenCube.definition.name, input: "x" });
    expect(e.faultyOps[0]!.rule).toBe("vjp's derivative");
    // Forward over the vjp sees it too.
    expect(() => checkGrads(frozenCube, [x], { order: 2, modes: ["fwd"] })).toThrow(
      /order 2.*forward-mode derivative \(jvp\) disagrees/,
    );
  });

  it("a vjp that is not a traced linear map of dy fails forward mode", () => {
    expect(checkGrads(detachedSin, [x]).checked).toBe(2);
    const e = caught(() =>
      checkGrads(detachedSin, [x], { modes: ["fwd"] }),
    ) as GradientMismatchError;
    expect(e.message).toMatch(
      /^checkGrads: forward-mode derivative \(jvp\) disagrees with finite differences along a direction v of random ±1 entries\n {2}∂out\[0\] along v: analytic 0, numeric /,
    );
    // Its vjp is right in value: the search blames the jvp derived from it.
    expect(e.faultyOps[0]).toMatchObject({ op: detachedSin.definition.name, rule: "jvp" });
    // The reverse check of order 2 sees it through the derivative in ct, and the search finds
    // it by moving dy.
    const second = caught(() =>
      checkGrads(detachedSin, [x], { order: 2 }),
    ) as GradientMismatchError;
    expect(second.input).toBe("ct");
    expect(second.faultyOps[0]).toMatchObject({ op: detachedSin.definition.name, input: "dy" });
  });

  it("checkOpGradients passes the options on and names the op", () => {
    const op = getOp(`${BROKEN}frozenCube`)!;
    expect(() => checkOpGradients(op, { numRuns: 5 })).not.toThrow();
    expect(() => checkOpGradients(op, { numRuns: 5, order: 2 })).toThrow(
      /^secondOrderTest_frozenCube: the gradient check failed(.|\n)*secondOrderTest_frozenCube \(order 2/,
    );
    expect(() =>
      checkOpGradients(getOp(`${BROKEN}detachedSin`)!, { numRuns: 5, modes: ["rev", "fwd"] }),
    ).toThrow(/^secondOrderTest_detachedSin: the gradient check failed(.|\n)*forward-mode/);
  });

  it("reports what it checked and rejects unknown options", () => {
    // order 1 rev: 2 elements; fwd: 2 output elements + the ⟨J·v, c⟩ identity; order 2 checks the
    // vjp (x, c) ↦ ∂⟨sin x, c⟩/∂x: rev 4 elements, fwd 2 + 1.
    const report = checkGrads(sin, [x], { order: 2, modes: ["rev", "fwd"] });
    expect(report.checked).toBe(2 + 3 + 4 + 3);
    expect(report.maxAbsError).toBeLessThan(1e-8);
    expect(() => checkGrads(sin, [x], { order: 3 as never })).toThrow(/order must be 1 or 2/);
    expect(() => checkGrads(sin, [x], { modes: ["sideways" as never] })).toThrow(/modes must/);
  });
});

describe("nested reverse mode", () => {
  it("grad(grad(sin))(x) = −sin x, grad³ = −cos x, grad⁴ = sin x (property)", () => {
    const d2 = grad(grad(sin));
    const d3 = grad(d2);
    const d4 = grad(d3);
    fc.assert(
      fc.property(fc.double({ min: -10, max: 10, noNaN: true }), (v) => {
        const x = f64(v);
        expect(num(d2(x))).toBeCloseTo(-Math.sin(v), 14);
        expect(num(d3(x))).toBeCloseTo(-Math.cos(v), 14);
        expect(num(d4(x))).toBeCloseTo(Math.sin(v), 14);
      }),
      { numRuns: 25 },
    );
    // Numbers in, numbers out, at every order.
    expect(grad(grad((x: TensorLike) => mul(x, mul(x, x))))(2)).toBe(12);
  });

  it("vjp of a pullback: derivatives in the point and in the cotangent", () => {
    // pb(x, c) = c·cos x: ∂/∂x = −c·sin x, ∂/∂c = cos x.
    const pb = (x: Tensor, c: Tensor) => vjp(sin, x)[1](c)[0];
    const [value, back] = vjp(pb, f64(0.4), f64(3));
    expect(num(value)).toBeCloseTo(3 * Math.cos(0.4), 14);
    const [dx, dc] = back(f64(1));
    expect(num(dx)).toBeCloseTo(-3 * Math.sin(0.4), 14);
    expect(num(dc)).toBeCloseTo(Math.cos(0.4), 14);
  });

  it("every pairing of grad, valueAndGrad and vjp gives the same second derivative", () => {
    const f = (x: Tensor) => mul(tanh(x), x);
    const x = 0.3;
    // d²/dx² [x·tanh x] = 2 sech² x − 2x·tanh x·sech² x.
    const s2 = 1 - Math.tanh(x) ** 2;
    const expected = 2 * s2 - 2 * x * Math.tanh(x) * s2;
    const viaGrad = (z: Tensor) => grad(f)(z);
    const viaValueAndGrad = (z: Tensor) => valueAndGrad(f)(z)[1];
    const viaVjp = (z: Tensor) => vjp(f, z)[1](f64(1))[0];
    for (const inner of [viaGrad, viaValueAndGrad, viaVjp]) {
      expect(num(grad(inner)(f64(x)))).toBeCloseTo(expected, 13);
      expect(num(valueAndGrad(inner)(f64(x))[1])).toBeCloseTo(expected, 13);
      expect(num(vjp(inner, f64(x))[1](f64(1))[0])).toBeCloseTo(expected, 13);
    }
  });

  it("valueAndGrad with hasAux inside grad: the aux keeps its dependence on the outer variable", () => {
    // aux = x·y (y inner, x outer); d/dx [aux at y = 2] = 2.
    const g = grad((x: Tensor) => {
      const inner = valueAndGrad((y: Tensor): [Tensor, Tensor] => [mul(x, y), mul(x, y)], {
        hasAux: true,
      });
      const [[, aux]] = inner(f64(2));
      return aux;
    })(f64(5));
    expect(num(g)).toBe(2);
  });

  it("a value leaked from a finished inner transform and returned as is keeps its dependence", () => {
    // Before the fix, such a view of the closed inner trace was not recognised as the outer
    // trace's output, and the gradient came out 0.
    const leak = (x: Tensor) => {
      let leaked: Tensor | undefined;
      grad((y: Tensor) => (leaked = mul(x, y)))(f64(2));
      return leaked!;
    };
    expect(num(grad(leak)(f64(5)))).toBe(2);
    expect(num(valueAndGrad(leak)(f64(5))[1])).toBe(2);
    const [out, pb] = vjp((x: Tensor) => ({ y: leak(x) }), f64(5));
    expect(num(out.y)).toBe(10);
    expect(num(pb({ y: f64(1) })[0])).toBe(2);
  });

  it("perturbation confusion: d/dx [x · d/dy (x + y)] = 1 with any inner and outer transform", () => {
    const inners = [
      (x: Tensor) => grad((y: Tensor) => add(x, y))(f64(1)),
      (x: Tensor) => valueAndGrad((y: Tensor) => add(x, y))(f64(1))[1],
      (x: Tensor) => vjp((y: Tensor) => add(x, y), f64(1))[1](f64(1))[0],
    ];
    for (const inner of inners) {
      const h = (x: Tensor) => mul(x, inner(x));
      expect(num(grad(h)(f64(3)))).toBe(1);
      expect(num(valueAndGrad(h)(f64(3))[1])).toBe(1);
      expect(num(vjp(h, f64(3))[1](f64(1))[0])).toBe(1);
    }
  });

  it("perturbation confusion: a captured tensor is a constant to the inner transform", () => {
    // d/dx [ d/dy (x·y²) at y = x ] = d/dx 2x² = 4x; confusing the levels would give 6x.
    const captured = (x: Tensor) => grad((y: Tensor) => mul(x, square(y)))(x);
    expect(num(grad(captured)(f64(1.5)))).toBeCloseTo(6, 14);
    // d/dx [ d/dy y³ at y = x ] = 6x: here x flows through the inner input.
    const passed = (x: Tensor) => grad((y: Tensor) => mul(y, square(y)))(x);
    expect(num(grad(passed)(f64(1.5)))).toBeCloseTo(9, 14);
  });

  it("perturbation confusion: two sibling inner grads and three levels deep", () => {
    // d/dx [ d/da (a·x) + d/db (b²·x) at b = 1 ] = d/dx [x + 2x] = 3.
    const siblings = (x: Tensor) =>
      add(grad((a: Tensor) => mul(a, x))(f64(7)), grad((b: Tensor) => mul(square(b), x))(f64(1)));
    expect(num(grad(siblings)(f64(2)))).toBe(3);
    // f(x) = x · d/dy [ y · d/dz (x·y·z) ] at y = 3: the middle is d/dy [x·y²] = 2xy = 6x, so
    // f = 6x² and f' = 12x.
    const threeLevels = (x: Tensor) =>
      mul(x, grad((y: Tensor) => mul(y, grad((z: Tensor) => mul(mul(x, y), z))(f64(0.5))))(f64(3)));
    expect(num(grad(threeLevels)(f64(2)))).toBeCloseTo(24, 12);
  });

  it("a pullback made outside a trace, called inside one: the cotangent is differentiated", () => {
    const [, pb] = vjp(sin, f64(0.8));
    // d/dc Σ pb(c²) = 2c·cos(0.8).
    const g = grad((c: Tensor) => sum(pb(square(c))[0]))(f64(1.5));
    expect(num(g)).toBeCloseTo(3 * Math.cos(0.8), 14);
  });

  it("a pullback closing over an outer variable keeps that dependence", () => {
    // pb(1) of x ↦ x·s is s, so d/ds = 1; and of x ↦ x·s² is s², so d/ds = 2s.
    const g1 = grad((s: Tensor) => vjp((x: Tensor) => mul(x, s), f64(5))[1](f64(1))[0])(f64(3));
    const g2 = grad((s: Tensor) => vjp((x: Tensor) => mul(x, square(s)), f64(5))[1](f64(1))[0])(
      f64(3),
    );
    expect(num(g1)).toBe(1);
    expect(num(g2)).toBe(6);
  });

  it("a pullback that escapes its grad works later, on constants", () => {
    let escaped: ((c: Tensor) => [Tensor]) | undefined;
    grad((s: Tensor) => {
      const [y, pb] = vjp((x: Tensor) => mul(x, s), f64(5));
      escaped = pb;
      return y;
    })(f64(3));
    expect(num(escaped!(f64(2))[0])).toBe(6);
    expect(num(grad((c: Tensor) => escaped!(c)[0])(f64(2)))).toBe(3);
    expect(isTracing()).toBe(false);
  });

  it("reverse-over-reverse, forward-over-reverse and finite differences agree on H·v", () => {
    const f = (p: { w: Tensor; b: Tensor }) => sum(tanh(add(mul(p.w, p.w), p.b)));
    const p = { w: f64([0.3, -0.8, 1.1]), b: f64([0.1, 0.2, -0.3]) };
    const v = { w: f64([1, 0.5, -1]), b: f64([0.2, -0.4, 0.6]) };
    const dot = (a: typeof p, b: typeof p) => add(sum(mul(a.w, b.w)), sum(mul(a.b, b.b)));
    const reverse = grad((q: typeof p) => dot(grad(f)(q), v))(p);
    const [forward] = hvp(f, [p], [v]);
    const eps = 1e-6;
    const shifted = (sign: number) =>
      grad(f)({ w: add(p.w, mul(v.w, sign * eps)), b: add(p.b, mul(v.b, sign * eps)) });
    for (const key of ["w", "b"] as const) {
      const below = shifted(-1)[key].data;
      const numeric = Array.from(shifted(1)[key].data).map((g, i) => (g - below[i]!) / (2 * eps));
      const forwardValues = forward[key].data;
      reverse[key].data.forEach((r, i) => {
        expect(r).toBeCloseTo(forwardValues[i]!, 12);
        expect(r).toBeCloseTo(numeric[i]!, 7);
      });
    }
  });

  it("a gradient penalty on a small model passes second-order checks (trees)", () => {
    // L(p) = (‖∇ₓ D(p, x)‖² − 1)², with D(p, x) = Σ tanh(w·x + b)·v.
    const D = (p: { w: Tensor; b: Tensor; v: Tensor }, x: Tensor) =>
      sum(mul(tanh(add(mul(p.w, x), p.b)), p.v));
    const penalty = (p: { w: Tensor; b: Tensor; v: Tensor }, x: Tensor) => {
      const gx = grad((z: Tensor) => D(p, z))(x);
      return square(add(sum(square(gx)), -1));
    };
    const p = { w: f64([0.5, -1.2]), b: f64([0.3, 0.1]), v: f64([1.5, 0.7]) };
    const report = checkGrads(penalty, [p, f64([0.2, -0.6])], { order: 2, modes: ["rev", "fwd"] });
    expect(report.checked).toBeGreaterThan(8);
  });
});
