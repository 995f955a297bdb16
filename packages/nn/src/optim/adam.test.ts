import { describe, expect, it } from "vitest";
import {
  adamUpdateTuning,
  getBackend,
  grad,
  listBackends,
  mul,
  prng,
  setBackend,
  square,
  sum,
  tensor,
  vjp,
  type Tensor,
} from "@tapegrad/autodiff";
import { adam, adamW } from "./adam.js";
import type { Optimizer } from "./optimizer.js";
import { trajectory, expectClose } from "../../test/quadratic.js";

// Adam at update t: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², m̂ = m/(1 − β₁ᵗ),
// v̂ = v/(1 − β₂ᵗ), w ← w − lr·m̂/(√v̂ + ε); here lr = 0.1, β = (0.9, 0.999), ε = 1e-8.
describe("adam", () => {
  it("follows the published update rule with bias correction", () => {
    // t=1: g = [2, −1], m = [0.2, −0.1], v = [0.004, 0.001], m̂ = [2, −1], v̂ = [4, 1],
    //      w₁ = [1 − 0.1·2/(2 + 1e-8), −2 + 0.1·1/(1 + 1e-8)] = [0.9000000005, −1.900000001].
    // t=2: g = [1.800000001, −0.9500000005], m = [0.3600000001, −0.18500000005],
    //      v = [0.0072360000036, 0.00190150000095], m̂ = m/0.19, v̂ = v/0.001999,
    //      w₂ = w₁ − 0.1·m̂/(√v̂ + ε) = [0.8004122286917928, −1.8001664876318761].
    // t=3: g = [1.6008244573835857, −0.9000832438159381], m = [0.48408244582835847,
    //      −0.25650832442659377], v = [0.00979140294695386, 0.002709748346747274],
    //      m̂ = m/0.271, v̂ = v/0.002997001, w₃ = [0.7015862729460303, −1.7006233943434113].
    expectClose(trajectory(adam({ lr: 0.1 })), [
      [0.9000000005, -1.900000001],
      [0.8004122286917928, -1.8001664876318761],
      [0.7015862729460303, -1.7006233943434113],
    ]);
  });

  it("adds weightDecay·w to the gradient (L2, as torch.optim.Adam)", () => {
    // λ = 0.1: g' = a⊙w + 0.1w, so t=1 sees g' = [2.1, −1.2] and again m̂ = g', v̂ = g'²:
    //      w₁ = [1 − 0.1·2.1/(2.1 + 1e-8), −2 + 0.1·1.2/(1.2 + 1e-8)]
    //         = [0.9000000004761904, −1.9000000008333333].
    // t=2: g' = [1.890000001, −1.1400000005], m = [0.3780000001, −0.22200000005],
    //      v = [0.00797769000378, 0.00273816000114], w₂ = [0.8004122286431954, −1.8001664872949483].
    // t=3: g' = [1.6808656801507103, −1.080099892376969], m = [0.5082865681050709,
    //      −0.30780998928269676], v = [0.010795021748484738, 0.0039020376186516036],
    //      w₃ = [0.7015862728718214, −1.700623393832979].
    expectClose(trajectory(adam({ lr: 0.1, weightDecay: 0.1 })), [
      [0.9000000004761904, -1.9000000008333333],
      [0.8004122286431954, -1.8001664872949483],
      [0.7015862728718214, -1.700623393832979],
    ]);
  });
});

describe("adamW", () => {
  it("decays the weights directly, w ← w·(1 − lr·λ), then takes the Adam step", () => {
    // λ = 0.1: the gradient is taken at w, then w·(1 − 0.01) − Adam step (with g = a⊙w).
    // t=1: g = [2, −1], w₁ = [0.99 − 0.1·2/(2 + 1e-8), −1.98 + 0.1/(1 + 1e-8)]
    //         = [0.8900000005, −1.880000001].
    // t=2: g = [1.780000001, −0.9400000005], m = [0.3580000001, −0.18400000005],
    //      v = [0.00716440000356, 0.00188260000094], w₂ = 0.99·w₁ − 0.1·m̂/(√v̂ + ε)
    //         = [0.7815718559365048, −1.7614089520966298].
    // t=3: g = [1.5631437118730096, −0.8807044760483149], m = [0.4785143712773008,
    //      −0.25367044764983143], v = [0.009600653867524579, 0.0026563577750705995],
    //      w₃ = [0.6751012216400698, −1.6443686858448485].
    expectClose(trajectory(adamW({ lr: 0.1, weightDecay: 0.1 })), [
      [0.8900000005, -1.880000001],
      [0.7815718559365048, -1.7614089520966298],
      [0.6751012216400698, -1.6443686858448485],
    ]);
  });

  it("defaults weightDecay to 0.01", () => {
    // t=1: w₁ = w₀·(1 − 0.1·0.01) − 0.1·sign-ish step = [0.999 − 0.0999999995, −1.998 + 0.099999999].
    expectClose(trajectory(adamW({ lr: 0.1 }), 1), [[0.8990000005, -1.898000001]]);
  });

  it("state holds the step and both moment trees, zeros at first", () => {
    const params = { layer: { w: tensor([1, 2]), b: tensor([3]) } };
    const state = adamW({ lr: 1e-3 }).init(params);
    expect(state.step).toBe(0);
    expect(state.expAvg).toEqual({ layer: { w: tensor([0, 0]), b: tensor([0]) } });
    expect(state.expAvgSq).toEqual({ layer: { w: tensor([0, 0]), b: tensor([0]) } });
  });

  it("rejects betas outside [0, 1)", () => {
    expect(() => adam({ lr: 0.1, betas: [1, 0.999] })).toThrow(
      "adam: betas[0] must be a number in [0, 1), got 1",
    );
    expect(() => adamW({ lr: 0.1, betas: [0.9, -0.1] })).toThrow(
      "adamW: betas[1] must be a number in [0, 1), got -0.1",
    );
    expect(() => adam({ lr: 0.1, eps: -1 })).toThrow(
      "adam: eps must be a finite number ≥ 0, got -1",
    );
  });
});

describe("the fused Adam loop", () => {
  // Random params, moments after a few steps, and gradients spanning several magnitudes. Leaf d
  // is long enough for the wasm kernel (≥ 2048 floats, not a multiple of its 4 lanes).
  function run(optimizer: Optimizer, dtype: "float32" | "float64", fused: boolean) {
    adamUpdateTuning.fused = fused;
    try {
      const rng = prng(7);
      let params = {
        a: rng.normal([5, 7], { dtype }),
        b: { c: rng.normal([3], { dtype }) },
        d: rng.normal([53, 41], { dtype }),
      };
      let state = optimizer.init(params);
      const out: number[][] = [];
      for (let t = 0; t < 4; t++) {
        const scale = 10 ** (t - 2);
        const grads = {
          a: mul(rng.normal([5, 7], { dtype }), scale),
          b: { c: mul(rng.normal([3], { dtype }), scale) },
          d: mul(rng.normal([53, 41], { dtype }), scale),
        };
        [params, state] = optimizer.update(grads, state, params);
        out.push([...params.a.data, ...params.b.c.data, ...params.d.data]);
      }
      return out;
    } finally {
      adamUpdateTuning.fused = true;
    }
  }

  const cases: [string, () => Optimizer][] = [
    ["adam", () => adam({ lr: 0.01 })],
    ["adam with L2 and a schedule", () => adam({ lr: (t) => 0.01 / (t + 1), weightDecay: 0.1 })],
    ["adamW", () => adamW({ lr: 0.003, betas: [0.8, 0.99], eps: 1e-6 })],
  ];
  // float32 only: float64 leaves always take the ops.
  for (const backend of listBackends()) {
    for (const [label, make] of cases) {
      it(`gives the ops' results bit for bit on ${backend}: ${label}`, () => {
        const previous = getBackend();
        setBackend(backend);
        try {
          expect(run(make(), "float32", true)).toEqual(run(make(), "float32", false));
        } finally {
          setBackend(previous);
        }
      });
    }
  }

  it("leaves a traced update on the ops, so it can be differentiated", () => {
    // adamW at t = 1: w₁ = w·(1 − lr·λ) − lr·g/(|g| + ε), so ∂w₁/∂w = 1 − 0.1·0.5 = 0.95. A
    // fused (untraced) result would have no path back to w.
    const optimizer = adamW({ lr: 0.1, weightDecay: 0.5 });
    const grads = { w: tensor([0.5, 0.25], { dtype: "float64" }) };
    const start = { w: tensor([1, -2], { dtype: "float64" }) };
    const state = optimizer.init(start);
    const [, pullback] = vjp((w: Tensor) => optimizer.update(grads, state, { w })[0].w, start.w);
    const [dw] = pullback(tensor([1, 1], { dtype: "float64" }));
    expect(Array.from(dw!.data)).toEqual([0.95, 0.95]);
  });
});
