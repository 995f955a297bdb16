import { describe, expect, it } from "vitest";
import { jit, tensor, type Tensor } from "@tapegrad/autodiff";
import { clipByGlobalNorm, clipGradients } from "./clip.js";

const f64 = (values: number[]) => tensor(values, { dtype: "float64" });

describe("clipByGlobalNorm", () => {
  it("scales every leaf by maxNorm/(‖g‖ + 1e-6) when the global norm is too large", () => {
    // ‖g‖ = √(3² + 4² + 12²) = 13 over both leaves; maxNorm 2.6 gives the factor 2.6/(13 + 1e-6).
    const grads = { a: f64([3, 4]), b: { c: f64([12]) } };
    const [clipped, norm] = clipByGlobalNorm(grads, 2.6);
    expect(norm.item()).toBe(13);
    const factor = 2.6 / (13 + 1e-6);
    expect(Array.from(clipped.a.data)).toEqual([3 * factor, 4 * factor]);
    expect(Array.from(clipped.b.c.data)).toEqual([12 * factor]);
    expect(grads.a.data[0]).toBe(3); // the input is untouched
  });

  it("leaves gradients whose norm is within maxNorm as they are", () => {
    const grads = [f64([0.3]), f64([-0.4])];
    const [clipped, norm] = clipByGlobalNorm(grads, 1);
    expect(norm.item()).toBeCloseTo(0.5, 15);
    expect(clipped.map((g: Tensor) => g.data[0])).toEqual([0.3, -0.4]);
  });

  it("computes the norm of float32 leaves in float64 and keeps their dtype", () => {
    // In float32 the squares (9e40) would overflow to ∞ and every gradient would become 0.
    const [clipped, norm] = clipByGlobalNorm({ g: tensor([3e20, 4e20]) }, 1);
    expect(norm.item() / 5e20).toBeCloseTo(1, 6);
    expect(clipped.g.dtype).toBe("float32");
    expect(clipped.g.data[0]).toBeCloseTo(0.6, 6);
  });

  it("rejects a non-positive maxNorm and non-tensor leaves", () => {
    expect(() => clipByGlobalNorm({ g: f64([1]) }, 0)).toThrow(
      "clipByGlobalNorm: maxNorm must be a finite number > 0, got 0",
    );
    expect(() => clipByGlobalNorm({ g: null }, 1)).toThrow(
      "clipByGlobalNorm: grads.g must be a tensor, got null",
    );
  });

  it("traces under jit, giving the eager results on replays", () => {
    const clip = jit((grads: Tensor[]) => clipByGlobalNorm(grads, 1));
    for (const scale of [0.1, 1, 10]) {
      const grads = [f64([0.3 * scale]), f64([-0.4 * scale, 0.2])];
      const [clipped, norm] = clip(grads);
      const [want, wantNorm] = clipByGlobalNorm(grads, 1);
      expect(norm.item()).toBe(wantNorm.item());
      expect(clipped.map((g) => Array.from(g.data))).toEqual(want.map((g) => Array.from(g.data)));
    }
    expect(clip.cacheSize).toBe(1);
  });

  it("clipGradients is the same clip as a gradient transform", () => {
    const clip = clipGradients(1);
    expect(Array.from(clip({ g: f64([6, 8]) }).g.data)).toEqual([6 / (10 + 1e-6), 8 / (10 + 1e-6)]);
  });
});
