import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { constant } from "../init.js";
import { batchNorm1d, batchNorm2d } from "./batchNorm.js";

const close = (actual: Tensor, expected: number[], digits = 5) => {
  expect(actual.size).toBe(expected.length);
  const values = actual.data;
  expected.forEach((e, i) => expect(values[i]).toBeCloseTo(e, digits));
};

describe("batchNorm2d", () => {
  // x [N=2, C=2, H=1, W=2]. Channel 0 holds 1, 2, 3, 6: mean 3, biased variance 14/4 = 3.5,
  // unbiased 14/3. Channel 1 holds 0, 0, 4, 4: mean 2, biased variance 4, unbiased 16/3.
  const x = tensor(
    [
      [[[1, 2]], [[0, 0]]],
      [[[3, 6]], [[4, 4]]],
    ],
    { dtype: "float64" },
  );
  const eps = 1e-5;

  it("inits weight 1, bias 0, runningMean 0, runningVar 1", () => {
    const { params, state } = batchNorm2d({ numFeatures: 3 }).init(prng(0));
    expect(params.weight!.toArray()).toEqual([1, 1, 1]);
    expect(params.bias!.toArray()).toEqual([0, 0, 0]);
    expect(state.runningMean.toArray()).toEqual([0, 0, 0]);
    expect(state.runningVar.toArray()).toEqual([1, 1, 1]);
  });

  it("normalises with batch statistics and updates running stats as PyTorch (unbiased var)", () => {
    const layer = batchNorm2d({ numFeatures: 2, momentum: 0.1 });
    const { params, state } = layer.init(prng(0));
    const [y, next] = layer.applyWithState(params, state, x, { training: true });
    const s0 = Math.sqrt(3.5 + eps);
    const s1 = Math.sqrt(4 + eps);
    close(y, [(1 - 3) / s0, (2 - 3) / s0, -2 / s1, -2 / s1, 0, (6 - 3) / s0, 2 / s1, 2 / s1]);
    // running = (1 − m)·running + m·batch: mean 0.9·0 + 0.1·3, var 0.9·1 + 0.1·14/3.
    close(next.runningMean, [0.3, 0.2]);
    close(next.runningVar, [0.9 + 0.1 * (14 / 3), 0.9 + 0.1 * (16 / 3)]);
    expect(next.runningMean.dtype).toBe("float32");
    // The state passed in is a value: untouched.
    expect(state.runningMean.toArray()).toEqual([0, 0]);
  });

  it("uses the running statistics in eval mode, with the affine params", () => {
    const layer = batchNorm2d({
      numFeatures: 2,
      weightInit: constant(2),
      biasInit: constant(1),
    });
    const { params } = layer.init(prng(0));
    const state = { runningMean: tensor([1, -1]), runningVar: tensor([4, 0.25]) };
    const [y, next] = layer.applyWithState(params, state, x);
    const s0 = Math.sqrt(4 + eps);
    const s1 = Math.sqrt(0.25 + eps);
    close(y, [
      (2 * (1 - 1)) / s0 + 1,
      (2 * (2 - 1)) / s0 + 1,
      (2 * (0 + 1)) / s1 + 1,
      (2 * (0 + 1)) / s1 + 1,
      (2 * (3 - 1)) / s0 + 1,
      (2 * (6 - 1)) / s0 + 1,
      (2 * (4 + 1)) / s1 + 1,
      (2 * (4 + 1)) / s1 + 1,
    ]);
    expect(next).toBe(state);
    // apply reads the state from ctx.state.
    close(layer.apply(params, x, { state }), Array.from(y.data));
  });

  it("with momentum 1 the running stats become the batch's; affine false has no params", () => {
    const layer = batchNorm2d({ numFeatures: 2, momentum: 1, affine: false });
    const { params, state } = layer.init(prng(0));
    expect(params).toEqual({});
    const [, next] = layer.applyWithState(params, state, x, { training: true });
    close(next.runningMean, [3, 2]);
    close(next.runningVar, [14 / 3, 16 / 3]);
  });

  it("passes checkGrads in training mode through the batch statistics", () => {
    const layer = batchNorm2d({ numFeatures: 3 });
    const rng = prng(1);
    const { state } = layer.init(rng);
    const params = { weight: rng.normal([3]), bias: rng.normal([3]) };
    const input = rng.normal([2, 3, 2, 3], { dtype: "float64" });
    const f = (p: typeof params, v: Tensor) =>
      layer.applyWithState(p, state, v, { training: true })[0];
    checkGrads(f, [params, input]);
    const evalF = (p: typeof params, v: Tensor) => layer.apply(p, v, { state });
    checkGrads(evalF, [params, input]);
  });

  it("says what is missing or wrong", () => {
    const layer = batchNorm2d({ numFeatures: 2 });
    const { params, state } = layer.init(prng(0));
    expect(() => layer.apply(params, x)).toThrow(
      "batchNorm2d: state.runningMean is missing: pass the state from init (applyWithState's " +
        "state, or ctx.state with apply), got nothing",
    );
    expect(() => layer.apply(params, tensor([[1, 2]]), { state })).toThrow(
      "batchNorm2d: x must be [N, C, H, W] with C = 2, got shape [1,2]",
    );
    expect(() =>
      layer.applyWithState(params, state, tensor([[[[1]], [[2]]]]), { training: true }),
    ).toThrow("batchNorm2d: training needs more than one value per channel");
    expect(() => batchNorm2d({ numFeatures: 0 })).toThrow(
      "batchNorm2d: numFeatures must be a positive integer, got 0",
    );
    expect(() => batchNorm2d({ numFeatures: 2, momentum: 1.5 })).toThrow(
      "batchNorm2d: momentum must be a number in [0, 1], got 1.5",
    );
    expect(() => batchNorm2d({ numFeatures: 2, eps: 0 })).toThrow(
      "batchNorm2d: eps must be a positive number, got 0",
    );
  });
});

describe("batchNorm1d", () => {
  it("normalises [N, C] over N and [N, C, L] over N and L", () => {
    const layer = batchNorm1d({ numFeatures: 2, momentum: 0.5 });
    const { params, state } = layer.init(prng(0));
    const x2 = tensor([
      [1, 10],
      [3, 30],
    ]);
    const [y, next] = layer.applyWithState(params, state, x2, { training: true });
    // Channel 0: 1, 3 (mean 2, biased variance 1); channel 1: 10, 30 (mean 20, variance 100).
    const s0 = Math.sqrt(1 + 1e-5);
    const s1 = Math.sqrt(100 + 1e-5);
    close(y, [-1 / s0, -10 / s1, 1 / s0, 10 / s1]);
    close(next.runningMean, [1, 10]);
    // Unbiased variances 2 and 200: 0.5·1 + 0.5·var.
    close(next.runningVar, [1.5, 100.5], 4);
    const x3 = prng(1).normal([4, 2, 5]);
    expect(layer.applyWithState(params, state, x3, { training: true })[0].shape).toEqual([4, 2, 5]);
    expect(() => layer.apply(params, prng(1).normal([1, 2, 2, 2]), { state })).toThrow(
      "batchNorm1d: x must be [N, C] or [N, C, L] with C = 2, got shape [1,2,2,2]",
    );
  });
});
