import { checkGrads } from "@tapegrad/autodiff/testing";
import { prng, sum, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, tanh } from "./activations.js";

const values = (t: Tensor) => Array.from(t.data);

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), for the exact GELU reference. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.sign(x) * (1 - poly * Math.exp(-x * x));
}

describe("activation layers", () => {
  const x = tensor([-2, -0.5, 0.5, 3], { dtype: "float64" });

  it("compute the ops' values and have no params or state", () => {
    expect(relu().init(prng(0))).toEqual({ params: {}, state: {} });
    expect(values(relu().apply({}, x))).toEqual([0, 0, 0.5, 3]);
    expect(values(leakyRelu(0.1).apply({}, x))).toEqual([-0.2, -0.05, 0.5, 3]);
    expect(values(leakyRelu().apply({}, x))[0]).toBeCloseTo(-0.02, 12);
    expect(values(sigmoid().apply({}, x))[2]).toBeCloseTo(1 / (1 + Math.exp(-0.5)), 12);
    expect(values(tanh().apply({}, x))[3]).toBeCloseTo(Math.tanh(3), 12);
  });

  it("gelu is x·Φ(x) by default, and the tanh approximation on request", () => {
    const grid = Array.from({ length: 121 }, (_, i) => -6 + i * 0.1);
    const x = tensor(grid, { dtype: "float64" });
    const exact = values(gelu().apply({}, x));
    const tanhForm = values(gelu({ approximate: "tanh" }).apply({}, x));
    grid.forEach((v, i) => {
      expect(exact[i]).toBeCloseTo(0.5 * v * (1 + erf(v / Math.SQRT2)), 6);
      const approx = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      expect(tanhForm[i]).toBeCloseTo(approx, 12);
    });
    expect(() => gelu({ approximate: "fast" as never })).toThrow(
      'gelu: approximate must be "none" or "tanh", got fast',
    );
  });

  it("softmax and logSoftmax normalise along their axis (default −1)", () => {
    const logits = prng(1).normal([2, 3, 4], { dtype: "float64" });
    const sums = values(sum(softmax().apply({}, logits), { axis: -1 }));
    sums.forEach((s) => expect(s).toBeCloseTo(1, 12));
    const overAxis1 = values(sum(softmax(1).apply({}, logits), { axis: 1 }));
    overAxis1.forEach((s) => expect(s).toBeCloseTo(1, 12));
    const logs = values(logSoftmax(1).apply({}, logits));
    const probs = values(softmax(1).apply({}, logits));
    logs.forEach((l, i) => expect(Math.exp(l)).toBeCloseTo(probs[i]!, 12));
  });

  it("pass checkGrads", () => {
    const input = prng(2).normal([3, 4], { dtype: "float64" });
    for (const layer of [gelu(), sigmoid(), tanh(), softmax(0), logSoftmax(), leakyRelu(0.2)]) {
      checkGrads((v: Tensor) => layer.apply({}, v), [input], { name: layer.kind });
    }
  });

  it("reject bad arguments", () => {
    expect(() => leakyRelu(Number.NaN)).toThrow(
      "leakyRelu: alpha must be a finite number, got NaN",
    );
    expect(() => softmax(1.5)).toThrow("softmax: axis must be an integer, got 1.5");
  });
});
