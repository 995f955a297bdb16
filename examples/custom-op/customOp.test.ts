import { describe, expect, it } from "vitest";
import { defineOp, getOp, mul, sigmoid, tensor } from "@tapegrad/autodiff";
import { checkOpGradients, differentiableOps } from "@tapegrad/autodiff/testing";
import { trainSwishMlp, verifySwish } from "./customOp.js";
import { swish } from "./swish.js";

describe("step 1: the swish op", () => {
  it("computes x·σ(x) in the input's float type, without overflow", () => {
    const xs = [-1000, -5, -1, -0.5, 0, 0.5, 1, 5, 1000];
    for (const dtype of ["float32", "float64"] as const) {
      const y = swish(tensor(xs, { dtype }));
      expect(y.dtype).toBe(dtype);
      expect(y.shape).toEqual([xs.length]);
      const values = y.data;
      xs.forEach((x, i) => {
        const expected = Math.abs(x) > 50 ? Math.max(x, 0) : x / (1 + Math.exp(-x));
        expect(values[i]).toBeCloseTo(expected, dtype === "float64" ? 12 : 6);
      });
    }
    expect(swish(tensor([[1, 2]])).shape).toEqual([1, 2]);
  });

  it("is in the registry, where the registry-wide gradient suite finds it", () => {
    expect(getOp("swish")?.definition.name).toBe("swish");
    expect(differentiableOps().map((op) => op.definition.name)).toContain("swish");
    expect(() => defineOp({ ...swish.definition })).toThrow(/already registered/);
  });
});

describe("step 2: verification", () => {
  it("passes checkGrads (first and second order) and the fast-check property", () => {
    const v = verifySwish(50, 7);
    expect(v.firstOrder.checked).toBe(9);
    expect(v.firstOrder.maxAbsError).toBeLessThan(1e-6);
    expect(v.secondOrder.checked).toBe(9);
    expect(v.secondOrder.maxAbsError).toBeLessThan(1e-6);
  });

  it("would catch a wrong vjp (σ(x) alone, forgetting the x·σ'(x) term)", () => {
    const broken = defineOp({
      ...swish.definition,
      name: "customOpTest_brokenSwish",
      vjp: ({ dy, inputs: [x] }) => [mul(dy, sigmoid(x))],
    });
    expect(() =>
      checkOpGradients(getOp(broken.definition.name)!, { numRuns: 20, seed: 1 }),
    ).toThrow(/^customOpTest_brokenSwish: the gradient check failed/);
  });
});

describe("step 3: an MLP with swish activations", () => {
  it("learns two moons", () => {
    const r = trainSwishMlp({ steps: 150, points: 256 });
    expect(r.finalLoss).toBeLessThan(r.firstLoss / 10);
    expect(r.trainAccuracy).toBeGreaterThan(0.97);
    expect(r.testAccuracy).toBeGreaterThan(0.95);
  });
});
