import { checkGrads } from "@tapegrad/autodiff/testing";
import { mean, prng, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { layerNorm } from "./layerNorm.js";

describe("layerNorm", () => {
  it("normalises each sample over the trailing normalizedShape (biased variance)", () => {
    const layer = layerNorm({ normalizedShape: 4 });
    const { params, state } = layer.init(prng(0));
    expect(params.weight!.toArray()).toEqual([1, 1, 1, 1]);
    expect(params.bias!.toArray()).toEqual([0, 0, 0, 0]);
    expect(state).toEqual({});
    const x = tensor([
      [1, 2, 3, 6],
      [0, 0, 4, 4],
    ]);
    const y = layer.apply(params, x);
    // Row 0: mean 3, variance 3.5; row 1: mean 2, variance 4.
    const s0 = Math.sqrt(3.5 + 1e-5);
    const s1 = Math.sqrt(4 + 1e-5);
    const expected = [-2 / s0, -1 / s0, 0, 3 / s0, -2 / s1, -2 / s1, 2 / s1, 2 / s1];
    const values = y.data;
    expected.forEach((e, i) => expect(values[i]).toBeCloseTo(e, 5));
    // Training mode changes nothing: there are no running statistics.
    expect(layer.apply(params, x, { training: true }).data).toEqual(y.data);
  });

  it("takes a multi-axis shape with an elementwise affine of that shape", () => {
    const layer = layerNorm({ normalizedShape: [3, 4], elementwiseAffine: true });
    const { params } = layer.init(prng(0));
    expect(params.weight!.shape).toEqual([3, 4]);
    const y = layer.apply(params, prng(1).normal([2, 5, 3, 4], { dtype: "float64" }));
    const means = mean(y, { axis: [2, 3] });
    Array.from(means.data).forEach((m) => expect(m).toBeCloseTo(0, 10));
    expect(
      layerNorm({ normalizedShape: 3, elementwiseAffine: false }).init(prng(0)).params,
    ).toEqual({});
  });

  it("passes checkGrads", () => {
    const layer = layerNorm({ normalizedShape: [2, 3] });
    const rng = prng(2);
    const params = { weight: rng.normal([2, 3]), bias: rng.normal([2, 3]) };
    const x = rng.normal([3, 2, 3], { dtype: "float64" });
    checkGrads((p: typeof params, v: Tensor) => layer.apply(p, v), [params, x]);
  });

  it("rejects bad shapes", () => {
    expect(() => layerNorm({ normalizedShape: [] })).toThrow(
      "layerNorm: normalizedShape must be a positive integer or a non-empty array of them, got []",
    );
    expect(() => layerNorm({ normalizedShape: [3, 0] })).toThrow(
      "layerNorm: normalizedShape[1] must be a positive integer, got 0",
    );
    const layer = layerNorm({ normalizedShape: 4 });
    expect(() => layer.apply(layer.init(prng(0)).params, prng(0).normal([4, 3]))).toThrow(
      "layerNorm: x must end with the normalized shape [4], got shape [4,3]",
    );
  });
});
