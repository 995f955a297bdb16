import { checkGrads } from "@tapegrad/autodiff/testing";
import { mean, prng, square, TapegradError, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { rmsNorm } from "./rmsNorm.js";

describe("rmsNorm", () => {
  it("divides by √(mean(x²) + eps) over the trailing axes and scales by weight", () => {
    const layer = rmsNorm({ normalizedShape: 2 });
    const { params, state } = layer.init(prng(0));
    expect(params.weight!.toArray()).toEqual([1, 1]);
    expect(state).toEqual({});
    const x = tensor(
      [
        [3, 4],
        [-6, 8],
      ],
      { dtype: "float64" },
    );
    // torch.nn.RMSNorm's formula: y = x / √(eps + mean(x²)) · γ. Row 0: mean(x²) = 12.5;
    // row 1: mean(x²) = 50; eps = 1e-6 by default.
    const r0 = Math.sqrt(12.5 + 1e-6);
    const r1 = Math.sqrt(50 + 1e-6);
    const weight = tensor([2, 0.5], { dtype: "float64" });
    const y = layer.apply({ weight }, x);
    const expected = [(3 / r0) * 2, (4 / r0) * 0.5, (-6 / r1) * 2, (8 / r1) * 0.5];
    Array.from(y.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
    // No centring, unlike layerNorm: a constant row stays ±1, not 0.
    const constant = rmsNorm({ normalizedShape: 3, elementwiseAffine: false });
    const ones = constant.apply({}, tensor([[5, 5, 5]], { dtype: "float64" }));
    Array.from(ones.data).forEach((v) => expect(v).toBeCloseTo(1, 6));
  });

  it("uses eps = 1e-6 by default: it matters when mean(x²) is that small", () => {
    const x = tensor([1e-3, 1e-3], { dtype: "float64" });
    // mean(x²) = 1e-6, so y = 1e-3/√(2e-6) = 1/√2 with the default eps, 1/√1.01 with 1e-8.
    const y = rmsNorm({ normalizedShape: 2, elementwiseAffine: false }).apply({}, x);
    expect(y.data[0]).toBeCloseTo(Math.SQRT1_2, 12);
    const small = rmsNorm({ normalizedShape: 2, eps: 1e-8, elementwiseAffine: false });
    expect(small.apply({}, x).data[0]).toBeCloseTo(1 / Math.sqrt(1.01), 12);
  });

  it("normalises over several axes: mean(y²) = 1 over normalizedShape", () => {
    const layer = rmsNorm({ normalizedShape: [3, 4] });
    const { params } = layer.init(prng(0));
    expect(params.weight!.shape).toEqual([3, 4]);
    const y = layer.apply(params, prng(1).normal([2, 5, 3, 4], { dtype: "float64" }));
    expect(y.shape).toEqual([2, 5, 3, 4]);
    const ms = mean(square(y), { axis: [2, 3] });
    Array.from(ms.data).forEach((m) => expect(m).toBeCloseTo(1, 4));
    expect(rmsNorm({ normalizedShape: 3, elementwiseAffine: false }).init(prng(0)).params).toEqual(
      {},
    );
  });

  it("passes checkGrads (order 2)", () => {
    const layer = rmsNorm({ normalizedShape: [2, 3] });
    const rng = prng(2);
    const params = { weight: rng.normal([2, 3], { dtype: "float64" }) };
    const x = rng.normal([3, 2, 3], { dtype: "float64" });
    checkGrads((p: typeof params, v: Tensor) => layer.apply(p, v), [params, x], { order: 2 });
  });

  it("rejects bad options and shapes", () => {
    expect(() => rmsNorm({ normalizedShape: [] })).toThrow(
      "rmsNorm: normalizedShape must be a positive integer or a non-empty array of them, got []",
    );
    expect(() => rmsNorm({ normalizedShape: 4, eps: 0 })).toThrow(
      "rmsNorm: eps must be a positive number, got 0",
    );
    const layer = rmsNorm({ normalizedShape: 4 });
    const call = () => layer.apply(layer.init(prng(0)).params, prng(0).normal([4, 3]));
    expect(call).toThrow(TapegradError);
    expect(call).toThrow("rmsNorm: x must end with the normalized shape [4], got shape [4,3]");
  });
});
