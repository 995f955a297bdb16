import {
  TapegradError,
  grad,
  prng,
  sum,
  tensor,
  treeFlatten,
  treeUnflatten,
  type Tensor,
} from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { batchNorm1d } from "../layers/batchNorm.js";
import { relu } from "../layers/activations.js";
import { linear } from "../layers/linear.js";
import { LayerError } from "./child.js";
import { sequential } from "./sequential.js";

const mlp = () =>
  sequential({
    fc1: linear({ inFeatures: 3, outFeatures: 4 }),
    bn: batchNorm1d({ numFeatures: 4 }),
    act: relu(),
    fc2: linear({ inFeatures: 4, outFeatures: 2 }),
  });

describe("sequential", () => {
  it("names params and state after a record's keys", () => {
    const { params, state } = mlp().init(prng(0));
    expect(treeFlatten(params).map(([path]) => path)).toEqual([
      "fc1.weight",
      "fc1.bias",
      "bn.weight",
      "bn.bias",
      "fc2.weight",
      "fc2.bias",
    ]);
    expect(treeFlatten(state).map(([path]) => path)).toEqual(["bn.runningMean", "bn.runningVar"]);
    expect(params.fc2.weight.shape).toEqual([2, 4]);
    expect(Object.keys(mlp().children!)).toEqual(["fc1", "bn", "act", "fc2"]);
  });

  it("names them 0, 1, … for an array", () => {
    const model = sequential([linear({ inFeatures: 2, outFeatures: 2 }), relu()]);
    const { params } = model.init(prng(0));
    expect(Array.isArray(params)).toBe(true);
    expect(treeFlatten(params).map(([path]) => path)).toEqual(["0.weight", "0.bias"]);
    expect(model.children!["1"]!.kind).toBe("relu");
  });

  it("applies the layers in order", () => {
    const model = sequential([linear({ inFeatures: 1, outFeatures: 1 }), relu()]);
    const params = [{ weight: tensor([[-2]]), bias: tensor([1]) }, {}] as const;
    expect(model.apply(params, tensor([[1], [-1]])).toArray()).toEqual([[0], [3]]);
    expect(
      sequential([])
        .apply([], tensor([5]))
        .toArray(),
    ).toEqual([5]);
  });

  it("threads state: training updates it in place of the old tree, eval reads it", () => {
    const model = mlp();
    const { params, state } = model.init(prng(1));
    const x = prng(2).normal([8, 3]);
    const [, next] = model.applyWithState(params, state, x, { training: true });
    expect(next.bn.runningMean.data).not.toEqual(state.bn.runningMean.data);
    expect(next.fc1).toEqual({});
    const [, same] = model.applyWithState(params, next, x);
    expect(same.bn.runningMean).toBe(next.bn.runningMean);
    expect(model.apply(params, x, { state: next }).shape).toEqual([8, 2]);
  });

  it("gives gradients in the params' tree structure", () => {
    const model = mlp();
    const { params, state } = model.init(prng(3));
    const x = prng(4).normal([5, 3]);
    const g = grad((p: typeof params) => sum(model.apply(p, x, { state })))(params);
    expect(treeFlatten(g).map(([path, t]) => [path, (t as Tensor).shape])).toEqual(
      treeFlatten(params).map(([path, t]) => [path, (t as Tensor).shape]),
    );
  });

  it("works with params that lost their empty entries through treeFlatten/treeUnflatten", () => {
    const model = sequential([
      linear({ inFeatures: 2, outFeatures: 2 }),
      relu(),
      linear({ inFeatures: 2, outFeatures: 1 }),
    ]);
    const { params } = model.init(prng(5));
    const restored = treeUnflatten(treeFlatten(params)) as typeof params;
    const x = prng(6).normal([3, 2]);
    expect(model.apply(restored, x).data).toEqual(model.apply(params, x).data);
  });

  it("inits each child from its own split, so siblings do not shift each other's draws", () => {
    const a = sequential({
      fc1: linear({ inFeatures: 2, outFeatures: 2 }),
      fc2: linear({ inFeatures: 2, outFeatures: 2 }),
    });
    const b = sequential({
      fc1: linear({ inFeatures: 2, outFeatures: 2, bias: false }),
      fc2: linear({ inFeatures: 2, outFeatures: 2 }),
    });
    expect(a.init(prng(7)).params.fc2.weight.data).toEqual(b.init(prng(7)).params.fc2.weight.data);
  });

  it("prefixes errors with the path of the failing layer, keeping the code", () => {
    const model = sequential({ block: mlp() });
    const { params } = model.init(prng(0));
    let error: unknown;
    try {
      model.apply(params, prng(0).normal([4, 3]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TapegradError);
    expect(error).toBeInstanceOf(LayerError);
    expect((error as LayerError).code).toBe("INVALID_STATE");
    expect((error as LayerError).path).toEqual(["block", "bn"]);
    expect((error as Error).message).toMatch(
      /^block\.bn: batchNorm1d: state\.runningMean is missing/,
    );
    expect(() =>
      model.apply(params, prng(0).normal([4, 5]), { state: model.init(prng(0)).state }),
    ).toThrow(
      "block.fc1: linear: x must have 3 features in its last axis ([..., 3]), got shape [4,5]",
    );
  });

  it("rejects what is not a list of layers", () => {
    expect(() => sequential([relu(), (() => 1) as never])).toThrow(
      "sequential: layers.1 must be a layer, got",
    );
    expect(() => sequential({ "a.b": relu() })).toThrow(
      'sequential: layer names must be non-empty and contain no ".", got "a.b"',
    );
    expect(() => sequential(null as never)).toThrow(
      "sequential: expected an array or a record of layers, got null",
    );
  });
});
