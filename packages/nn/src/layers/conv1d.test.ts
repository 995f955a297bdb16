import { checkGrads } from "@tapegrad/autodiff/testing";
import {
  arange,
  div,
  prng,
  reshape,
  sub,
  TapegradError,
  tensor,
  type Tensor,
} from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { conv1d } from "./conv1d.js";

/** [1, 2, 5]: channel 0 is −4…0, channel 1 is 1…5 (torch.arange(10).reshape(1, 2, 5) − 4). */
const x2 = () => sub(reshape(arange(0, 10, 1, "float64"), [1, 2, 5]), 4);
/** [1, 2, 3]: channel 0 taps [1, 0, −1], channel 1 taps [2, 1, 0]. */
const w2 = () =>
  tensor(
    [
      [
        [1, 0, -1],
        [2, 1, 0],
      ],
    ],
    { dtype: "float64" },
  );

describe("conv1d layer", () => {
  it("cross-correlates along L, with 'valid' and 'same' padding", () => {
    const valid = conv1d({ inChannels: 2, outChannels: 1, kernelSize: 3, bias: false });
    // By hand, out[0] = (−4·1 + −2·−1) + (1·2 + 2·1) = 2, then 5 and 8;
    // PyTorch 1.13 F.conv1d(x2, w2).tolist() = [[[2.0, 5.0, 8.0]]].
    expect(valid.apply({ weight: w2() }, x2()).toArray()).toEqual([[[2, 5, 8]]]);
    const same = conv1d({
      inChannels: 2,
      outChannels: 1,
      kernelSize: 3,
      bias: false,
      padding: "same",
    });
    // PyTorch 1.13 F.conv1d(x2, w2, padding='same').tolist() = [[[4.0, 2.0, 5.0, 8.0, 12.0]]].
    expect(same.apply({ weight: w2() }, x2()).toArray()).toEqual([[[4, 2, 5, 8, 12]]]);
    // An even kernel under 'same' pads the odd extra zero after, as PyTorch:
    // F.conv1d(x2, [[[1, 0, −1, 1], [2, 1, 0, 0.5]]], padding='same') = [[[3.5, 3, 7.5, 8, 12]]].
    const even = conv1d({
      inChannels: 2,
      outChannels: 1,
      kernelSize: 4,
      bias: false,
      padding: "same",
    });
    const w4 = tensor([
      [
        [1, 0, -1, 1],
        [2, 1, 0, 0.5],
      ],
    ]);
    expect(even.apply({ weight: w4 }, x2()).toArray()).toEqual([[[3.5, 3, 7.5, 8, 12]]]);
  });

  it("matches torch.nn.functional.conv1d with stride, padding, dilation, groups and bias", () => {
    // /usr/bin/python3 -c "import torch; F = torch.nn.functional
    //   x = (torch.arange(20, dtype=torch.float64).reshape(1, 4, 5) - 10) / 4
    //   w = (torch.arange(24, dtype=torch.float64).reshape(4, 2, 3) - 12) / 8
    //   b = torch.tensor([0.5, -1.0, 0.25, 2.0], dtype=torch.float64)
    //   print(F.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2).tolist())"
    // (PyTorch 1.13)
    const x = div(sub(reshape(arange(0, 20, 1, "float64"), [1, 4, 5]), 10), 4);
    const weight = div(sub(reshape(arange(0, 24, 1, "float64"), [4, 2, 3]), 12), 8);
    const bias = tensor([0.5, -1.0, 0.25, 2.0], { dtype: "float64" });
    const layer = conv1d({
      inChannels: 4,
      outChannels: 4,
      kernelSize: 3,
      stride: 2,
      padding: 2,
      dilation: 2,
      groups: 2,
    });
    expect(layer.apply({ weight, bias }, x).toArray()).toEqual([
      [
        [8.34375, 11.25, 6.65625],
        [1.96875, 3.5625, 1.78125],
        [2.09375, 3.3125, 2.15625],
        [6.46875, 10.125, 8.03125],
      ],
    ]);
    // Unbatched [C, L] as PyTorch's Conv1d takes it.
    const unbatched = layer.apply({ weight, bias }, reshape(x, [4, 5]));
    expect(unbatched.shape).toEqual([4, 3]);
  });

  it("stores weight [Cout, Cin/groups, k] and inits it in ±1/√(Cin/groups·k), as PyTorch", () => {
    const { params } = conv1d({ inChannels: 6, outChannels: 30, kernelSize: 5, groups: 3 }).init(
      prng(3),
    );
    expect(params.weight.shape).toEqual([30, 2, 5]);
    expect(params.bias!.shape).toEqual([30]);
    const bound = 1 / Math.sqrt(2 * 5);
    const w = Array.from(params.weight.data);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w)).toBeGreaterThan(0.95 * bound);
    expect(Math.max(...Array.from(params.bias!.data, Math.abs))).toBeLessThanOrEqual(bound);
    expect(
      conv1d({ inChannels: 1, outChannels: 1, kernelSize: 2, bias: false }).init(prng(0)).params,
    ).not.toHaveProperty("bias");
  });

  it("passes checkGrads with stride, padding, dilation and groups", () => {
    const layer = conv1d({
      inChannels: 4,
      outChannels: 2,
      kernelSize: 3,
      stride: 2,
      padding: 2,
      dilation: 2,
      groups: 2,
      dtype: "float64",
    });
    const rng = prng(4);
    const { params } = layer.init(rng);
    const x = rng.normal([2, 4, 7], { dtype: "float64" });
    checkGrads((p: typeof params, input: Tensor) => layer.apply(p, input), [params, x]);
  });

  it("rejects bad options and inputs", () => {
    expect(() => conv1d({ inChannels: 4, outChannels: 6, kernelSize: 3, groups: 4 })).toThrow(
      "conv1d: groups must divide inChannels and outChannels, got groups 4 for inChannels 4 " +
        "and outChannels 6",
    );
    expect(() => conv1d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: -1 })).toThrow(
      "conv1d: padding must be an integer ≥ 0, got -1",
    );
    expect(() =>
      conv1d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: "same", stride: 2 }),
    ).toThrow("conv1d: padding 'same' needs stride 1, got stride 2");
    expect(() => conv1d({ inChannels: 1, outChannels: 1, kernelSize: 0 })).toThrow(
      "conv1d: kernelSize must be a positive integer, got 0",
    );
    const layer = conv1d({ inChannels: 3, outChannels: 2, kernelSize: 1 });
    const { params } = layer.init(prng(0));
    const call = () => layer.apply(params, prng(0).normal([1, 2, 4]));
    expect(call).toThrow(TapegradError);
    expect(call).toThrow(
      "conv1d: x must be [N, 3, L] or [3, L] (3 input channels), got shape [1,2,4]",
    );
  });
});
