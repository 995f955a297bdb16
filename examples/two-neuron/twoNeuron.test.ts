import { describe, expect, it } from "vitest";
import { INITIAL, LABEL, X, runTwoNeuron } from "./twoNeuron.js";

// |actual − expected| < 1e-6: toBeCloseTo(v, 6) allows 5e-7.
const close = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(1e-6);

describe("the two-neuron network of docs/cnn-backward.md", () => {
  const r = runTwoNeuron(0.1);

  it("forward: a = sigmoid(1), y = a + 1", () => {
    close(r.a, 0.731059);
    close(r.a, 1 / (1 + Math.exp(-1)));
    close(r.y, 1.731059);
    close(r.loss, 0.5 * (1.731059 - 2) ** 2);
  });

  it("gradients over the params object match the worked values", () => {
    close(r.grads.w21, -0.196612);
    close(r.grads.b2, -0.268941);
    close(r.grads.w11, -0.052877);
    close(r.grads.b1, -0.052877);
    // And the closed forms behind them, to float64 precision.
    const a = 1 / (1 + Math.exp(-(X * INITIAL.w11 + INITIAL.b1)));
    const dy = a * INITIAL.w21 + INITIAL.b2 - LABEL;
    expect(r.grads.w21).toBeCloseTo(dy * a, 12);
    expect(r.grads.b2).toBeCloseTo(dy, 12);
    expect(r.grads.w11).toBeCloseTo(dy * INITIAL.w21 * a * (1 - a) * X, 12);
  });

  it("one SGD step with α = 0.1 gives the worked weights and moves y toward the label", () => {
    close(r.updated.w11, 0.505288);
    close(r.updated.b1, 0.505288);
    close(r.updated.w21, 1.019661);
    close(r.updated.b2, 1.026894);
    close(r.newY, 1.774441);
    expect(r.newLoss).toBeLessThan(r.loss);
  });
});
