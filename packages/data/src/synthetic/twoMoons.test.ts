import { prng } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { twoMoons } from "./twoMoons.js";

describe("twoMoons", () => {
  it("draws n labelled points on the two half circles, reproducibly from the seed", () => {
    const { x, y } = twoMoons(200, prng(1), 0);
    expect(x.shape).toEqual([200, 2]);
    expect(y.dtype).toBe("int32");
    const points = x.toArray() as number[][];
    const labels = Array.from(y.data);
    expect(new Set(labels)).toEqual(new Set([0, 1]));
    points.forEach(([px, py], i) => {
      // Without noise each point lies on its class's unit half circle.
      const [cx, cy] = labels[i] === 0 ? [-0.5, -0.25] : [0.5, 0.25];
      expect(Math.hypot(px! - cx, py! - cy)).toBeCloseTo(1, 5);
      expect(labels[i] === 0 ? py! >= -0.25 - 1e-6 : py! <= 0.25 + 1e-6).toBe(true);
    });
    expect(twoMoons(5, prng(7)).x.toArray()).toEqual(twoMoons(5, prng(7)).x.toArray());
  });

  it("names a bad argument", () => {
    expect(() => twoMoons(-1, prng(1))).toThrow(
      "twoMoons: n must be a non-negative integer, got -1",
    );
    expect(() => twoMoons(3, prng(1), -0.1)).toThrow(
      "twoMoons: noise must be a number ≥ 0, got -0.1",
    );
  });
});
