import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { relu } from "../layers/activations.js";
import { conv2d } from "../layers/conv.js";
import { linear } from "../layers/linear.js";
import { maxPool2d } from "../layers/pool.js";
import { parallel } from "./parallel.js";
import { sequential } from "./sequential.js";

describe("parallel", () => {
  const inception = () =>
    parallel({
      b1: conv2d({ inChannels: 3, outChannels: 2, kernelSize: 1 }),
      b3: sequential({
        reduce: conv2d({ inChannels: 3, outChannels: 1, kernelSize: 1 }),
        conv: conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1 }),
      }),
      pool: sequential({
        pool: maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
        proj: conv2d({ inChannels: 3, outChannels: 1, kernelSize: 1 }),
      }),
    });

  it("concatenates the branches' outputs along channels, in branch order", () => {
    const block = inception();
    const { params } = block.init(prng(0));
    const x = prng(1).normal([2, 3, 5, 5]);
    const y = block.apply(params, x);
    expect(y.shape).toEqual([2, 2 + 4 + 1, 5, 5]);
    const b3 = block.children!.b3!.apply(params.b3, x);
    // Channels 2…5 of y are the b3 branch.
    const [all, branch] = [y.data, b3.data];
    for (let n = 0; n < 2; n++) {
      for (let i = 0; i < 4 * 25; i++) {
        expect(all[n * 7 * 25 + 2 * 25 + i]).toBe(branch[n * 4 * 25 + i]);
      }
    }
    expect(treeFlatten(params).map(([path]) => path)).toEqual([
      "b1.weight",
      "b1.bias",
      "b3.reduce.weight",
      "b3.reduce.bias",
      "b3.conv.weight",
      "b3.conv.bias",
      "pool.proj.weight",
      "pool.proj.bias",
    ]);
  });

  it("concatenates along another axis on request, and passes checkGrads", () => {
    const block = parallel([linear({ inFeatures: 2, outFeatures: 3 }), relu()], { concatAxis: -1 });
    const rng = prng(2);
    const { params } = block.init(rng);
    const x = rng.normal([4, 2], { dtype: "float64" });
    expect(block.apply(params, x).shape).toEqual([4, 5]);
    checkGrads((p: typeof params, v: Tensor) => block.apply(p, v), [params, x]);
    const conv = inception();
    const v = conv.init(rng);
    checkGrads(
      (p: typeof v.params, input: Tensor) => conv.apply(p, input),
      [v.params, rng.normal([1, 3, 4, 4], { dtype: "float64" })],
    );
  });

  it("names the branches whose shapes do not fit", () => {
    const block = parallel({
      a: conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3 }),
      b: conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1 }),
    });
    const { params } = block.init(prng(0));
    expect(() => block.apply(params, prng(0).normal([1, 1, 5, 5]))).toThrow(
      "parallel: branch outputs must agree on every axis but concatAxis 1, got a [1,1,3,3], " +
        "b [1,1,5,5]",
    );
    expect(() => parallel([])).toThrow("parallel: expected at least 1 layer(s), got 0");
  });
});
