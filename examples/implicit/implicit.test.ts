import { describe, expect, it } from "vitest";
import {
  abs,
  customVjp,
  grad,
  jvp,
  max,
  mul,
  prng,
  sub,
  sum,
  TapegradError,
  tensor,
  vjp,
  type Tensor,
} from "@tapegrad/autodiff";
import { checkGrads } from "@tapegrad/autodiff/testing";
import {
  contractiveWeight,
  equilibriumLayer,
  fixedPoint,
  fixedPointMap,
  solveForward,
  type EquilibriumParams,
  type MapParams,
} from "./fixedPoint.js";
import { equilibriumModel, maxDifference, moons, tapeBytes, trainEquilibrium } from "./implicit.js";

const rng = prng(7);
const x = rng.normal([6, 3], { dtype: "float64" });
const weights = rng.normal([6, 5], { dtype: "float64" });
const counts = { forward: 0, backward: 0 };
const layer = equilibriumLayer({
  inFeatures: 3,
  hidden: 5,
  dtype: "float64",
  tolerance: 1e-13,
  onSolve: (phase, n) => {
    counts[phase] = n;
  },
});
const params = layer.init(rng.split());
/** A scalar of the layer's output with a fixed random weighting, implicit or unrolled. */
const loss = (p: EquilibriumParams, v: Tensor, unrolled?: number) =>
  sum(mul(layer.apply(p, v, { unrolled }), weights));

describe("the fixed-point layer", () => {
  it("returns a fixed point of the map: z* = tanh(z*·Wᵀ + x·Uᵀ + b)", () => {
    const z = layer.apply(params, x);
    const map = { W: contractiveWeight(params.V, 0.8), U: params.U, b: params.b };
    expect(max(abs(sub(fixedPointMap(z, map, x), z))).item()).toBeLessThan(1e-12);
    expect(counts.forward).toBeGreaterThan(3);
  });

  it("has the unrolled loop's gradient in the limit: the gap shrinks with K, below 1e-8", () => {
    const implicit = grad(loss, { argnums: [0, 1] })(params, x);
    expect(counts.backward).toBeGreaterThan(3);
    const gaps = [2, 4, 8, 60].map((k) =>
      maxDifference(
        implicit,
        grad((p: EquilibriumParams, v: Tensor) => loss(p, v, k), { argnums: [0, 1] })(params, x),
      ),
    );
    expect(gaps[0]!).toBeGreaterThan(1e-4); // two steps are far from the equilibrium
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeLessThan(gaps[i - 1]! / 4);
    expect(gaps.at(-1)!).toBeLessThan(1e-8);
  });

  it("passes checkGrads: reverse and forward mode, first and second order", () => {
    const f = (p: EquilibriumParams, v: Tensor) => layer.apply(p, v);
    checkGrads(f, [params, x], { modes: ["rev", "fwd"], order: 2 });
  });

  it("gives forward mode the whole solve, not one step (a zero cotangent iterates too)", () => {
    // linearize transposes the vjp at a zero cotangent, where a stopping test on the iterates
    // passes at once; the tangent would then be (I + J)·v instead of (I − J)⁻¹·v.
    const tangent = rng.normal([6, 3], { dtype: "float64" });
    const [, implicit] = jvp((v: Tensor) => layer.apply(params, v), [x], [tangent]);
    const [, unrolled] = jvp(
      (v: Tensor) => layer.apply(params, v, { unrolled: 60 }),
      [x],
      [tangent],
    );
    expect(maxDifference(implicit, unrolled)).toBeLessThan(1e-10);
  });

  it("fails checkGrads with the one-step rule (the gradient as if J were 0)", () => {
    // The Jacobian-free shortcut u = ḡ skips the solve: cheap, but not the derivative.
    const map = (p: EquilibriumParams): MapParams => ({
      W: contractiveWeight(p.V, 0.8),
      U: p.U,
      b: p.b,
    });
    const oneStep = customVjp((m: MapParams, v: Tensor) => solveForward(m, v).value, {
      fwd: (m: MapParams, v: Tensor) => {
        const z = solveForward(m, v).value;
        return [z, { m, v, z }] as const;
      },
      bwd: ({ m, v, z }, dz: Tensor) => {
        const [, pullback] = vjp((mm: MapParams, vv: Tensor) => fixedPointMap(z, mm, vv), m, v);
        return pullback(dz);
      },
    });
    const f = (p: EquilibriumParams, v: Tensor) => oneStep(map(p), v);
    expect(() => checkGrads(f, [params, x], { findFaultyOp: false })).toThrow(/gradient/);
  });

  it("keeps the tape O(1) in the iterations, where unrolling grows with K", () => {
    const model = equilibriumModel(16);
    const p = model.init(0);
    const data = moons(512, prng(1));
    const lossOf = (unrolled?: number) => (q: typeof p) =>
      sum(model.apply(q, data.x, { unrolled }));
    const implicit = tapeBytes(lossOf(), [p]);
    const [k30, k60] = [30, 60].map((k) => tapeBytes(lossOf(k), [p]));
    // About 64 KiB per step for [512, 16] float64 iterates and their intermediates.
    expect(k60).toBeGreaterThan(1.5 * k30);
    expect(implicit).toBeLessThan(k30 / 5);
  });
});

describe("training", () => {
  it("learns two moons through the implicit layer with short solves", () => {
    const r = trainEquilibrium({ steps: 60, points: 256, lr: 0.05 });
    expect(r.finalLoss).toBeLessThan(r.firstLoss / 4);
    expect(r.testAccuracy).toBeGreaterThan(0.95);
    expect(r.counts.forward).toHaveLength(60);
    expect(r.counts.backward).toHaveLength(60);
    expect(Math.max(...r.counts.forward, ...r.counts.backward)).toBeLessThan(100);
  });
});

describe("errors", () => {
  it("rejects a bound on ‖W‖ that does not contract", () => {
    expect(() => equilibriumLayer({ inFeatures: 2, hidden: 4, scale: 1 })).toThrow(/scale/);
  });

  it("says so when the map does not converge", () => {
    // ‖W‖₂ = 3: tanh(3z + …) has several fixed points and the iteration need not settle.
    const m: MapParams = {
      W: mul(
        tensor(
          [
            [1, 0],
            [0, 1],
          ],
          { dtype: "float64" },
        ),
        -3,
      ),
      U: tensor([[0], [0]], { dtype: "float64" }),
      b: tensor([0.1, -0.1], { dtype: "float64" }),
    };
    const v = tensor([[1]], { dtype: "float64" });
    expect(() => fixedPoint({ maxIterations: 200 })(m, v)).toThrow(TapegradError);
    expect(() => fixedPoint({ maxIterations: 200 })(m, v)).toThrow(/contraction/);
  });

  it("rejects bad solver options", () => {
    expect(() => fixedPoint({ tolerance: 0 })).toThrow(/tolerance/);
    expect(() => fixedPoint({ maxIterations: 1.5 })).toThrow(/maxIterations/);
  });
});
