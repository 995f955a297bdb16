import { beforeAll, describe, expect, it } from "vitest";
import {
  add,
  checkGrads,
  grad,
  prng,
  sign,
  stopGradient,
  sub,
  sum,
  tanh,
  tensor,
  treeLeaves,
  vjp,
  Tensor,
} from "@tapegrad/autodiff";
import { crossEntropy } from "@tapegrad/nn";
import { binarize, binarySign, hardtanh } from "./binarize.js";
import { twoMoons } from "@tapegrad/data";
import {
  binaryMlp,
  binaryMlpLayers,
  trainBinaryMlp,
  type BinaryMlpParams,
  type TrainResult,
} from "./straightThrough.js";

/** Every element of t is −1 or 1 (sign's 0 at 0 would not be binary). */
function isBinary(t: Tensor): boolean {
  return Array.from(t.data).every((v) => v === -1 || v === 1);
}

/** Every value of every tensor in a gradient tree, in the tree's leaf order. */
function gradientValues(tree: unknown): number[] {
  return treeLeaves(tree).flatMap((leaf) => (leaf instanceof Tensor ? Array.from(leaf.data) : []));
}

// Points on both sides of the mask's edges, including exactly ±1 (inside: |x| ≤ 1) and 0.
const xs = [-3, -1.5, -1, -0.7, -0.2, 0, 0.3, 0.9, 1, 1.2, 4];

describe("binarize", () => {
  it("is exactly ±1 forward, with +1 at 0, in the input's dtype", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const y = binarize(tensor(xs, { dtype }));
      expect(y.dtype).toBe(dtype);
      expect(y.toArray()).toEqual([-1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1]);
    }
  });

  it("pulls back dy·[|x| ≤ 1], the clipped identity, and nothing else", () => {
    const x = tensor(xs, { dtype: "float64" });
    const dy = prng(3).normal([xs.length], { dtype: "float64" });
    const [, pullback] = vjp(binarize, x);
    const [dx] = pullback(dy);
    // The same product as the rule computes, so that −0 (dy < 0 outside the mask) matches too.
    const expected = xs.map((v, i) => dy.data[i]! * (Math.abs(v) <= 1 ? 1 : 0));
    expect(Array.from(dx.data)).toEqual(expected);
  });

  it("is not sign's true derivative, which checkGrads sees as zero", () => {
    // Away from 0, finite differences of sign are exactly 0; the estimator says 1 inside the
    // mask. checkGrads must reject the rule: it is a useful lie, not a derivative.
    const x = tensor([-0.7, -0.2, 0.3, 0.9], { dtype: "float64" });
    expect(() => checkGrads(binarize, [x])).toThrow(/gradient/);
    expect(grad((v: Tensor) => sum(sign(v)))(x).toArray()).toEqual([0, 0, 0, 0]);
  });

  it("borrows hardtanh's derivative, which checkGrads does confirm away from its kinks", () => {
    const x = tensor([-3, -1.5, -0.7, -0.2, 0.3, 0.9, 1.2, 4], { dtype: "float64" });
    checkGrads(hardtanh, [x]);
    const dBinarize = grad((v: Tensor) => sum(binarize(v)))(x);
    expect(dBinarize.toArray()).toEqual(grad((v: Tensor) => sum(hardtanh(v)))(x).toArray());
    // A smooth surrogate passes checkGrads too, but its derivative is not the rule used here.
    checkGrads(tanh, [x]);
    expect(grad((v: Tensor) => sum(tanh(v)))(x).toArray()).not.toEqual(dBinarize.toArray());
  });
});

describe("a binarised MLP on two moons", () => {
  let r: TrainResult;
  beforeAll(() => {
    r = trainBinaryMlp({ steps: 150, points: 256 });
  });

  it("learns: the loss drops and accuracy is far above chance", () => {
    expect(r.finalLoss).toBeLessThan(r.firstLoss / 5);
    expect(r.trainAccuracy).toBeGreaterThan(0.95);
    expect(r.testAccuracy).toBeGreaterThan(0.93);
  });

  it("computes with ±1 hidden activations and ±1 hidden weights only", () => {
    const layers = binaryMlpLayers(32);
    const h1 = layers.block1.apply(r.params.block1, r.test.x);
    const h2 = layers.block2.apply(r.params.block2, h1);
    expect(h1.shape).toEqual([256, 32]);
    expect(isBinary(h1)).toBe(true);
    expect(isBinary(h2)).toBe(true);
    expect(isBinary(binarySign(r.params.block2.linear.weight))).toBe(true);
  });

  it("backpropagates the rule: same gradients as the stop-gradient form of the estimator", () => {
    // hardtanh(x) + stopGradient(sign(x) − hardtanh(x)) is sign forward and hardtanh's
    // derivative backward: the same estimator built from ordinary ops, as a reference.
    const detached = (x: Tensor) => add(hardtanh(x), stopGradient(sub(binarySign(x), hardtanh(x))));
    const data = twoMoons(64, prng(11));
    const lossOf = (model: ReturnType<typeof binaryMlp>) => (p: BinaryMlpParams) =>
      crossEntropy(model.apply(p, data.x), data.y);
    const params = binaryMlp(32).init(prng(5)).params;
    const custom = grad(lossOf(binaryMlp(32)))(params);
    const want = gradientValues(grad(lossOf(binaryMlp(32, detached)))(params));
    const got = gradientValues(custom);
    expect(got.length).toBe(want.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // The first layer learns only through both binarize calls: its gradient is not zero.
    expect(Array.from(custom.block1.linear.weight.data).some((v) => v !== 0)).toBe(true);
  });
});
