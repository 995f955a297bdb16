import { prng, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import {
  calculateGain,
  computeFans,
  constant,
  kaimingNormal,
  kaimingUniform,
  normal,
  ones,
  uniform,
  xavierNormal,
  xavierUniform,
  zeros,
} from "./init.js";

function stats(t: Tensor) {
  const v = Array.from(t.data);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  const maxAbs = Math.max(...v.map(Math.abs));
  return { mean, std: Math.sqrt(variance), maxAbs, min: Math.min(...v), max: Math.max(...v) };
}

describe("fans and gains", () => {
  it("computes fans as PyTorch's _calculate_fan_in_and_fan_out", () => {
    expect(computeFans([10, 20])).toEqual({ fanIn: 20, fanOut: 10 });
    // conv2d [Cout, Cin/g, kh, kw]: receptive field 5·5.
    expect(computeFans([8, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 200 });
    // convTranspose2d [Cin, Cout/g, kh, kw]: fanIn from dim 1 as well.
    expect(computeFans([16, 6, 3, 3])).toEqual({ fanIn: 54, fanOut: 144 });
    expect(() => computeFans([5])).toThrow(
      "computeFans: fan in and fan out need a weight with at least 2 dimensions, got shape [5]",
    );
  });

  it("gives torch.nn.init.calculate_gain's values", () => {
    expect(calculateGain("linear")).toBe(1);
    expect(calculateGain("conv2d")).toBe(1);
    expect(calculateGain("sigmoid")).toBe(1);
    expect(calculateGain("tanh")).toBeCloseTo(5 / 3, 15);
    expect(calculateGain("relu")).toBeCloseTo(Math.SQRT2, 15);
    expect(calculateGain("leakyRelu")).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(calculateGain("leakyRelu", Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(calculateGain("selu")).toBe(0.75);
    expect(() => calculateGain("swish" as never)).toThrow(
      "calculateGain: unknown nonlinearity swish;",
    );
  });
});

describe("initializers", () => {
  const shape = [256, 128];

  it("kaimingUniform: U(±gain·√(3/fan)), default He (a = 0, fanIn)", () => {
    const s = stats(kaimingUniform()(prng(0), shape));
    const bound = Math.SQRT2 * Math.sqrt(3 / 128);
    expect(s.maxAbs).toBeLessThanOrEqual(bound);
    expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
    // With a = √5 (PyTorch's layer default) the bound is 1/√fanIn.
    const t = stats(kaimingUniform({ a: Math.sqrt(5) })(prng(1), shape));
    expect(t.maxAbs).toBeLessThanOrEqual(1 / Math.sqrt(128));
    expect(t.maxAbs).toBeGreaterThan(0.99 / Math.sqrt(128));
    const fanOut = stats(kaimingUniform({ mode: "fanOut", nonlinearity: "relu" })(prng(2), shape));
    expect(fanOut.maxAbs).toBeLessThanOrEqual(Math.SQRT2 * Math.sqrt(3 / 256));
    expect(fanOut.maxAbs).toBeGreaterThan(0.99 * Math.SQRT2 * Math.sqrt(3 / 256));
  });

  it("kaimingNormal: N(0, (gain/√fan)²)", () => {
    const s = stats(kaimingNormal({ nonlinearity: "relu" })(prng(3), shape));
    expect(s.mean).toBeCloseTo(0, 2);
    expect(s.std / (Math.SQRT2 / Math.sqrt(128))).toBeCloseTo(1, 1.5);
    const out = stats(kaimingNormal({ mode: "fanOut" })(prng(4), [64, 32, 3, 3]));
    expect(out.std / (Math.SQRT2 / Math.sqrt(64 * 9))).toBeCloseTo(1, 1.5);
  });

  it("xavierUniform and xavierNormal scale with fanIn + fanOut", () => {
    const u = stats(xavierUniform({ gain: 2 })(prng(5), shape));
    const bound = 2 * Math.sqrt(6 / (256 + 128));
    expect(u.maxAbs).toBeLessThanOrEqual(bound);
    expect(u.maxAbs).toBeGreaterThan(0.99 * bound);
    const n = stats(xavierNormal()(prng(6), shape));
    expect(n.std / Math.sqrt(2 / (256 + 128))).toBeCloseTo(1, 1.5);
  });

  it("constant, zeros, ones, uniform and normal; dtype float32 by default", () => {
    expect(constant(0.5)(prng(0), [2]).toArray()).toEqual([0.5, 0.5]);
    expect(zeros()(prng(0), [2, 1]).toArray()).toEqual([[0], [0]]);
    expect(ones()(prng(0), [1], "float64").dtype).toBe("float64");
    expect(kaimingUniform()(prng(0), [3, 3]).dtype).toBe("float32");
    const u = stats(uniform({ low: 2, high: 3 })(prng(0), [1000]));
    expect(u.min).toBeGreaterThanOrEqual(2);
    expect(u.max).toBeLessThan(3);
    expect(stats(normal({ mean: 5, std: 0.1 })(prng(0), [1000])).mean).toBeCloseTo(5, 1);
  });

  it("reproduces draws from the same seed and handles empty tensors", () => {
    const init = kaimingNormal();
    expect(init(prng(9), [4, 4]).data).toEqual(init(prng(9), [4, 4]).data);
    expect(kaimingUniform()(prng(0), [0, 3]).shape).toEqual([0, 3]);
  });

  it("rejects bad options", () => {
    expect(() => xavierUniform({ gain: -1 })).toThrow(
      "xavierUniform: gain must be a positive number, got -1",
    );
    expect(() => kaimingUniform({ mode: "fan_in" as never })(prng(0), [2, 2])).toThrow(
      'kaimingUniform: mode must be "fanIn" or "fanOut", got fan_in',
    );
    expect(() => uniform({ low: 1, high: 1 })).toThrow(
      "uniform: expected finite low < high, got low=1 high=1",
    );
    expect(() => kaimingUniform()(prng(0), [3])).toThrow(/at least 2 dimensions/);
  });
});
