import { grad, mean, prng, sum, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { dropout } from "./dropout.js";

describe("dropout", () => {
  const x = prng(0).uniform([100_000], { low: 1, high: 2 });

  it("is the identity in eval mode (and by default)", () => {
    const layer = dropout(0.5);
    expect(layer.apply({}, x)).toBe(x);
    expect(layer.apply({}, x, { training: false, rng: prng(1) })).toBe(x);
    expect(dropout(0).apply({}, x, { training: true })).toBe(x);
  });

  it("drops a fraction p and scales the rest by 1/(1 − p), keeping the mean", () => {
    const p = 0.3;
    const y = dropout(p).apply({}, x, { training: true, rng: prng(2) });
    let zeros = 0;
    let worst = 0;
    const [ys, xs] = [y.data, x.data];
    for (let i = 0; i < x.size; i++) {
      if (ys[i] === 0) zeros++;
      else worst = Math.max(worst, Math.abs(ys[i]! - xs[i]! / (1 - p)));
    }
    expect(worst).toBeLessThan(1e-6);
    // Binomial(1e5, 0.3): standard deviation of the fraction ≈ 0.0014.
    expect(Math.abs(zeros / x.size - p)).toBeLessThan(0.006);
    expect(mean(y).item() / mean(x).item()).toBeCloseTo(1, 1);
  });

  it("draws its mask from ctx.rng: reproducible, and fresh on every call", () => {
    const layer = dropout(0.5);
    const x = prng(6).normal([1000]);
    const a = layer.apply({}, x, { training: true, rng: prng(3) });
    const b = layer.apply({}, x, { training: true, rng: prng(3) });
    expect(a.data).toEqual(b.data);
    const rng = prng(3);
    const first = layer.apply({}, x, { training: true, rng });
    const second = layer.apply({}, x, { training: true, rng });
    expect(first.data).not.toEqual(second.data);
  });

  it("passes the gradient through kept elements only, scaled", () => {
    const layer = dropout(0.25);
    const input = prng(4).normal([50]);
    const g = grad((v: Tensor) => sum(layer.apply({}, v, { training: true, rng: prng(5) })))(input);
    const y = layer.apply({}, input, { training: true, rng: prng(5) });
    const [gs, ys] = [g.data, y.data];
    for (let i = 0; i < input.size; i++) {
      expect(gs[i]).toBeCloseTo(ys[i] === 0 ? 0 : 1 / 0.75, 6);
    }
  });

  it("rejects p outside [0, 1) and training without an rng", () => {
    expect(() => dropout(1)).toThrow("dropout: p must be a number in [0, 1), got 1");
    expect(() => dropout(-0.1)).toThrow("dropout: p must be a number in [0, 1), got -0.1");
    expect(() => dropout(0.5).apply({}, x, { training: true })).toThrow(
      "dropout: training mode needs ctx.rng to draw the dropout mask, got none",
    );
  });
});
