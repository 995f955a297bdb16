import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, tensor, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { constant } from "../init.js";
import { linear } from "./linear.js";

describe("linear", () => {
  const params = {
    weight: tensor([
      [1, 2, 3],
      [0, -1, 1],
    ]),
    bias: tensor([10, 20]),
  };

  it("computes x·Wᵀ + b with W stored [out, in]", () => {
    const layer = linear({ inFeatures: 3, outFeatures: 2 });
    const y = layer.apply(
      params,
      tensor([
        [1, 1, 1],
        [1, 0, 2],
      ]),
    );
    expect(y.toArray()).toEqual([
      [16, 20],
      [17, 22],
    ]);
  });

  it("maps any leading axes, and a single vector", () => {
    const layer = linear({ inFeatures: 3, outFeatures: 2 });
    expect(layer.apply(params, prng(0).normal([4, 5, 3])).shape).toEqual([4, 5, 2]);
    expect(layer.apply(params, tensor([1, 1, 1])).toArray()).toEqual([16, 20]);
  });

  it("has weight and bias params (weight only without bias) and no state", () => {
    const { params: p, state } = linear({ inFeatures: 3, outFeatures: 2 }).init(prng(0));
    expect(treeFlatten(p).map(([path, t]) => [path, (t as Tensor).shape])).toEqual([
      ["weight", [2, 3]],
      ["bias", [2]],
    ]);
    expect(state).toEqual({});
    const noBias = linear({ inFeatures: 3, outFeatures: 2, bias: false });
    const v = noBias.init(prng(0));
    expect(Object.keys(v.params)).toEqual(["weight"]);
    expect(noBias.apply(v.params, tensor([[1, 0, 0]])).toArray()).toEqual([
      [v.params.weight.data[0], v.params.weight.data[3]],
    ]);
  });

  it("inits like PyTorch: weight and bias uniform in ±1/√inFeatures", () => {
    const { params: p } = linear({ inFeatures: 64, outFeatures: 100 }).init(prng(1));
    const bound = 1 / Math.sqrt(64);
    for (const t of [p.weight, p.bias!]) {
      const values = Array.from(t.data);
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound);
    }
    expect(Math.max(...Array.from(p.weight.data))).toBeGreaterThan(0.95 * bound);
    expect(Math.min(...Array.from(p.weight.data))).toBeLessThan(-0.95 * bound);
    expect(p.weight.dtype).toBe("float32");
  });

  it("takes initializer overrides and a dtype", () => {
    const layer = linear({
      inFeatures: 2,
      outFeatures: 2,
      weightInit: constant(0.5),
      biasInit: constant(-1),
      dtype: "float64",
    });
    const { params: p } = layer.init(prng(0));
    expect(p.weight.toArray()).toEqual([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    expect(p.bias!.toArray()).toEqual([-1, -1]);
    expect(p.weight.dtype).toBe("float64");
  });

  it("is reproducible from the seed", () => {
    const layer = linear({ inFeatures: 3, outFeatures: 4 });
    expect(layer.init(prng(7)).params.weight.data).toEqual(layer.init(prng(7)).params.weight.data);
    expect(layer.init(prng(7)).params.weight.data).not.toEqual(
      layer.init(prng(8)).params.weight.data,
    );
  });

  it("passes checkGrads through matmul's vjp", () => {
    const layer = linear({ inFeatures: 3, outFeatures: 2 });
    const rng = prng(2);
    const { params: p } = layer.init(rng);
    const x = rng.normal([4, 3], { dtype: "float64" });
    checkGrads((q: typeof p, input: Tensor) => layer.apply(q, input), [p, x]);
  });

  it("rejects bad options with the argument, what was expected and what was got", () => {
    expect(() => linear({ inFeatures: 0, outFeatures: 2 })).toThrow(
      "linear: inFeatures must be a positive integer, got 0",
    );
    expect(() => linear({ inFeatures: 2, outFeatures: 1.5 })).toThrow(
      "linear: outFeatures must be a positive integer, got 1.5",
    );
    expect(() => linear({ inFeatures: 2, outFeatures: 2, dtype: "int32" as never })).toThrow(
      'linear: dtype must be "float32" or "float64", got int32',
    );
    expect(() =>
      linear({ inFeatures: 2, outFeatures: 2, weightInit: constant(1) }).init(prng(0)),
    ).not.toThrow();
    const wrongShape = linear({
      inFeatures: 2,
      outFeatures: 3,
      weightInit: (rng) => rng.normal([2, 3]),
    });
    expect(() => wrongShape.init(prng(0))).toThrow(
      "linear: weightInit must return shape [3,2], got [2,3]",
    );
  });

  it("names the layer and the expected shape when x or params do not fit", () => {
    const layer = linear({ inFeatures: 3, outFeatures: 2 });
    expect(() => layer.apply(params, tensor([[1, 2]]))).toThrow(
      "linear: x must have 3 features in its last axis ([..., 3]), got shape [1,2]",
    );
    expect(() => layer.apply({ weight: params.weight }, tensor([[1, 2, 3]]))).toThrow(
      "linear: params.bias must be a tensor of shape [2], got nothing",
    );
    expect(() =>
      layer.apply({ ...params, weight: tensor([[1, 2, 3]]) }, tensor([[1, 2, 3]])),
    ).toThrow("linear: params.weight must have shape [2,3], got [1,3]");
  });
});
