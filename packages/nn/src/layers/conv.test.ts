import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, relu, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { conv2d, convTranspose2d } from "./conv.js";

const grid = (rows: number[][]) => tensor([[rows]]);

describe("conv2d layer", () => {
  it("reproduces docs/cnn-backward.md's cross-correlation vectors (bias, padding, stride)", () => {
    const x = grid([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
    const weight = grid([
      [0, 1],
      [2, 3],
    ]);
    const layer = conv2d({ inChannels: 1, outChannels: 1, kernelSize: 2 });
    expect(layer.apply({ weight, bias: tensor([2]) }, x).toArray()).toEqual([
      [
        [
          [21, 27],
          [39, 45],
        ],
      ],
    ]);
    const padded = conv2d({ inChannels: 1, outChannels: 1, kernelSize: 2, padding: 1 });
    expect(padded.apply({ weight, bias: tensor([0]) }, x).toArray()).toEqual([
      [
        [
          [0, 3, 8, 4],
          [9, 19, 25, 10],
          [21, 37, 43, 16],
          [6, 7, 8, 0],
        ],
      ],
    ]);
    const strided = conv2d({
      inChannels: 1,
      outChannels: 1,
      kernelSize: 2,
      stride: 2,
      bias: false,
    });
    const x4 = grid([
      [1, 2, 3, 4],
      [5, 9, 6, 7],
      [9, 0, 3, 2],
      [1, 2, 3, 4],
    ]);
    const w4 = grid([
      [1, 2],
      [3, 4],
    ]);
    expect(strided.apply({ weight: w4 }, x4).toArray()).toEqual([
      [
        [
          [56, 57],
          [20, 32],
        ],
      ],
    ]);
  });

  it("has (F·F·D1 + 1)·D2 params: two 3×3×3 filters → 56", () => {
    const { params } = conv2d({ inChannels: 3, outChannels: 2, kernelSize: 3 }).init(prng(0));
    expect(params.weight.shape).toEqual([2, 3, 3, 3]);
    expect(params.bias!.shape).toEqual([2]);
    expect(params.weight.size + params.bias!.size).toBe((3 * 3 * 3 + 1) * 2);
  });

  it("stores grouped weights as [Cout, Cin/groups, kh, kw] and keeps 'same' sizes", () => {
    const layer = conv2d({
      inChannels: 4,
      outChannels: 6,
      kernelSize: [3, 5],
      padding: "same",
      groups: 2,
    });
    const { params } = layer.init(prng(0));
    expect(params.weight.shape).toEqual([6, 2, 3, 5]);
    expect(layer.apply(params, prng(1).normal([2, 4, 7, 9])).shape).toEqual([2, 6, 7, 9]);
    expect(layer.apply(params, prng(1).normal([4, 7, 9])).shape).toEqual([6, 7, 9]);
  });

  it("inits weight and bias in ±1/√(Cin/groups·kh·kw)", () => {
    const { params } = conv2d({ inChannels: 3, outChannels: 32, kernelSize: 5 }).init(prng(3));
    const bound = 1 / Math.sqrt(3 * 25);
    const w = Array.from(params.weight.data);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w)).toBeGreaterThan(0.95 * bound);
    expect(Math.max(...Array.from(params.bias!.data, Math.abs))).toBeLessThanOrEqual(bound);
  });

  it("passes checkGrads with stride, padding, dilation and groups", () => {
    const layer = conv2d({
      inChannels: 4,
      outChannels: 2,
      kernelSize: 3,
      stride: 2,
      padding: 2,
      dilation: 2,
      groups: 2,
    });
    const rng = prng(4);
    const { params } = layer.init(rng);
    const x = rng.normal([2, 4, 5, 5], { dtype: "float64" });
    checkGrads((p: typeof params, input: Tensor) => layer.apply(p, input), [params, x]);
  });

  it("applies relu to the biased output with activation 'relu', with or without a bias", () => {
    const rng = prng(5);
    const x = rng.normal([2, 3, 6, 6], { dtype: "float64" });
    for (const bias of [true, false]) {
      const options = { inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, bias };
      const plain = conv2d(options);
      const fused = conv2d({ ...options, activation: "relu" });
      const { params } = plain.init(prng(6));
      const expected = relu(plain.apply(params, x));
      expect(fused.apply(params, x).toArray()).toEqual(expected.toArray());
      // Kinks at 0 are far from every output here, so finite differences hold.
      checkGrads((p: typeof params, input: Tensor) => fused.apply(p, input), [params, x]);
    }
    expect(() =>
      conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, activation: "gelu" as "relu" }),
    ).toThrow('conv2d: activation must be "linear" or "relu", got "gelu"');
  });

  it("rejects bad constructor args clearly", () => {
    expect(() => conv2d({ inChannels: 0, outChannels: 6, kernelSize: 5 })).toThrow(
      "conv2d: inChannels must be a positive integer, got 0",
    );
    expect(() => conv2d({ inChannels: 1, outChannels: -2, kernelSize: 5 })).toThrow(
      "conv2d: outChannels must be a positive integer, got -2",
    );
    expect(() => conv2d({ inChannels: 1, outChannels: 2, kernelSize: 0 })).toThrow(
      "conv2d: kernelSize must be an integer ≥ 1 or a pair of them, got 0",
    );
    expect(() => conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, groups: 4 })).toThrow(
      "conv2d: groups must divide inChannels and outChannels, got groups 4 for inChannels 4 " +
        "and outChannels 6",
    );
    expect(() => conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: -1 })).toThrow(
      "conv2d: padding must be an integer ≥ 0 or a pair of them, got -1",
    );
    expect(() =>
      conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: "same", stride: 2 }),
    ).toThrow("conv2d: padding 'same' needs stride 1, got stride [2,2]");
    expect(() => conv2d({ inChannels: 1, outChannels: 1, kernelSize: [3, 3, 3] as never })).toThrow(
      "conv2d: kernelSize must be an integer ≥ 1 or a pair of them, got [3,3,3]",
    );
  });

  it("names the expected channels when x does not fit", () => {
    const layer = conv2d({ inChannels: 3, outChannels: 2, kernelSize: 1 });
    const { params } = layer.init(prng(0));
    expect(() => layer.apply(params, prng(0).normal([1, 2, 4, 4]))).toThrow(
      "conv2d: x must be [N, 3, H, W] or [3, H, W] (3 input channels), got shape [1,2,4,4]",
    );
  });
});

describe("convTranspose2d layer", () => {
  it("stores weight [Cin, Cout/groups, kh, kw] and upsamples", () => {
    const layer = convTranspose2d({
      inChannels: 4,
      outChannels: 6,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
      groups: 2,
    });
    const { params } = layer.init(prng(0));
    expect(params.weight.shape).toEqual([4, 3, 3, 3]);
    expect(params.bias!.shape).toEqual([6]);
    // (5 − 1)·2 − 2 + 2 + 1 + 1 = 10
    expect(layer.apply(params, prng(1).normal([2, 4, 5, 5])).shape).toEqual([2, 6, 10, 10]);
  });

  it("inverts conv2d's shape map and spreads each input over a kernel window", () => {
    const layer = convTranspose2d({ inChannels: 1, outChannels: 1, kernelSize: 2, stride: 2 });
    const weight = grid([
      [1, 2],
      [3, 4],
    ]);
    const y = layer.apply({ weight, bias: tensor([0]) }, grid([[1, 10]]));
    expect(y.toArray()).toEqual([
      [
        [
          [1, 2, 10, 20],
          [3, 4, 30, 40],
        ],
      ],
    ]);
  });

  it("takes the default init's fanIn from weight dim 1 (Cout/groups·kh·kw), as PyTorch", () => {
    const { params } = convTranspose2d({ inChannels: 16, outChannels: 6, kernelSize: 3 }).init(
      prng(5),
    );
    const bound = 1 / Math.sqrt(6 * 9);
    const w = Array.from(params.weight.data);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    // A bound from dim 0 (1/√(16·9) ≈ 0.083) would be far smaller than what is drawn.
    expect(Math.max(...w)).toBeGreaterThan(0.95 * bound);
    expect(Math.max(...Array.from(params.bias!.data, Math.abs))).toBeLessThanOrEqual(bound);
  });

  it("passes checkGrads", () => {
    const layer = convTranspose2d({
      inChannels: 2,
      outChannels: 3,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
    });
    const rng = prng(6);
    const { params } = layer.init(rng);
    const x = rng.normal([2, 2, 3, 3], { dtype: "float64" });
    checkGrads((p: typeof params, input: Tensor) => layer.apply(p, input), [params, x]);
  });

  it("rejects an outputPadding not smaller than stride or dilation", () => {
    expect(() =>
      convTranspose2d({
        inChannels: 1,
        outChannels: 1,
        kernelSize: 3,
        stride: 2,
        outputPadding: 2,
      }),
    ).toThrow(
      "convTranspose2d: outputPadding must be smaller than stride or dilation, got " +
        "outputPadding [2,2] with stride [2,2] and dilation [1,1]",
    );
    expect(() => convTranspose2d({ inChannels: 1, outChannels: 0, kernelSize: 3 })).toThrow(
      "convTranspose2d: outChannels must be a positive integer, got 0",
    );
  });
});
