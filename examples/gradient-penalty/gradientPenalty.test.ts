import { describe, expect, it } from "vitest";
import { cast, prng, slice, type Tensor } from "@tapegrad/autodiff";
import { checkGrads } from "@tapegrad/autodiff/testing";
import {
  bars,
  critic,
  gradientNorms,
  gradientPenalty,
  trainCritic,
  type CriticParams,
} from "./gradientPenalty.js";

describe("gradient penalty", () => {
  it("its gradient in the critic's params (a gradient of a gradient) matches finite differences", () => {
    const rng = prng(5);
    const model = critic("float64");
    const { params } = model.init(rng.split());
    const f64 = (x: Tensor) => cast(x, "float64");
    const [real, fake] = [f64(bars(rng, 2, true)), f64(bars(rng, 2, false))];
    const t = rng.uniform([2, 1, 1, 1], { dtype: "float64" });
    const report = checkGrads(
      (p: CriticParams) => gradientPenalty(model, p, real, fake, t),
      [params],
    );
    // Every parameter: conv1 4·9 + 4, conv2 8·4·9 + 8, out 128 + 1.
    expect(report.checked).toBe(40 + 296 + 129);
  });

  it("gives one gradient norm per image, as if each were scored alone", () => {
    const rng = prng(1);
    const model = critic();
    const { params } = model.init(rng);
    const x = bars(rng, 3, true);
    const norms = gradientNorms(model, params, x);
    expect(norms.shape).toEqual([3]);
    const alone = gradientNorms(model, params, slice(x, [1], [2]));
    expect(alone.item()).toBeCloseTo(norms.data[1]!, 5);
  });

  it("training drives the penalty down while the critic separates real from fake", () => {
    const lines: string[] = [];
    const records = trainCritic({ steps: 100, logEvery: 20, log: (l) => lines.push(l) });
    expect(records.map((r) => r.step)).toEqual([1, 20, 40, 60, 80, 100]);
    const first = records[0]!;
    const last = records[records.length - 1]!;
    expect(first.penalty).toBeGreaterThan(0.3);
    expect(last.penalty).toBeLessThan(first.penalty / 20);
    expect(last.wasserstein).toBeGreaterThan(0.3);
    expect(lines[0]).toMatch(/^step +1: W ≈ +-?\d\.\d{4}, penalty \d\.\d{5}$/);
  });
});
