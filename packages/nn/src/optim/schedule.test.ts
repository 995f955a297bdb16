import { describe, expect, it } from "vitest";
import { jit, tensor, type Tensor } from "@tapegrad/autodiff";
import type { Schedule } from "./optimizer.js";
import { constant, cosineDecay, joinSchedules, linearWarmup, stepDecay } from "./schedule.js";

describe("schedules", () => {
  it("constant", () => {
    const s = constant(0.3);
    expect([0, 1, 1000].map(s)).toEqual([0.3, 0.3, 0.3]);
  });

  it("stepDecay multiplies by gamma every stepSize steps", () => {
    const s = stepDecay({ lr: 1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    expect(stepDecay({ lr: 2, stepSize: 1 })(2)).toBeCloseTo(0.02, 15); // gamma defaults to 0.1
  });

  it("cosineDecay falls from lr to minLr over totalSteps, then stays", () => {
    const s = cosineDecay({ lr: 1, totalSteps: 4, minLr: 0.2 });
    // minLr + (lr − minLr)·(1 + cos(π·t/4))/2: t = 0 → 1; t = 1 → 0.2 + 0.4·(1 + √½);
    // t = 2 → 0.6; t = 3 → 0.2 + 0.4·(1 − √½); t ≥ 4 → 0.2.
    const expected = [1, 0.2 + 0.4 * (1 + Math.SQRT1_2), 0.6, 0.2 + 0.4 * (1 - Math.SQRT1_2), 0.2];
    [0, 1, 2, 3, 4].forEach((t, i) => expect(s(t)).toBeCloseTo(expected[i]!, 15));
    expect(s(100)).toBe(0.2);
    expect(cosineDecay({ lr: 1, totalSteps: 2 })(1)).toBeCloseTo(0.5, 15);
  });

  it("linearWarmup ramps to lr by (step + 1)/warmupSteps", () => {
    const s = linearWarmup({ warmupSteps: 4, lr: 0.8 });
    const expected = [0.2, 0.4, 0.6, 0.8, 0.8, 0.8];
    [0, 1, 2, 3, 4, 50].forEach((t, i) => expect(s(t)).toBeCloseTo(expected[i]!, 15));
    expect(linearWarmup({ warmupSteps: 0, lr: 0.8 })(0)).toBe(0.8);
  });

  it("linearWarmup ramps to a schedule's start, then starts the schedule", () => {
    const s = linearWarmup({ warmupSteps: 2, schedule: cosineDecay({ lr: 1, totalSteps: 2 }) });
    expect([0, 1, 2].map(s)).toEqual([0.5, 1, 1]);
    expect(s(3)).toBeCloseTo(0.5, 15);
    expect(s(4)).toBe(0);
  });

  it("joinSchedules runs each schedule from its own step 0", () => {
    const s = joinSchedules([constant(1), stepDecay({ lr: 0.5, stepSize: 2, gamma: 0.5 })], [3]);
    expect([0, 2, 3, 4, 5, 7].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
  });

  it("rejects bad arguments precisely", () => {
    expect(() => stepDecay({ lr: 1, stepSize: 0 })).toThrow(
      "stepDecay: stepSize must be a positive integer, got 0",
    );
    expect(() => cosineDecay({ lr: 1, totalSteps: 10, minLr: -1 })).toThrow(
      "cosineDecay: minLr must be a finite number ≥ 0, got -1",
    );
    expect(() => linearWarmup({ warmupSteps: 2 } as never)).toThrow(
      "linearWarmup: give exactly one of lr (a number) and schedule (a function)",
    );
    expect(() => joinSchedules([constant(1), constant(2)], [])).toThrow(
      "joinSchedules: needs one boundary between each pair of schedules: 1 for 2 schedules, got 0",
    );
    expect(() => constant(1)(-1)).toThrow(
      "constant: step must be an integer ≥ 0 (the updates applied so far), got -1",
    );
  });
});

describe("the schedules' traced forms", () => {
  const schedules: [string, Schedule][] = [
    ["constant", constant(0.3)],
    ["stepDecay", stepDecay({ lr: 0.7, stepSize: 3, gamma: 0.3 })],
    ["cosineDecay", cosineDecay({ lr: 1e-3, totalSteps: 37, minLr: 1e-5 })],
    [
      "linearWarmup",
      linearWarmup({ warmupSteps: 5, schedule: cosineDecay({ lr: 0.1, totalSteps: 20 }) }),
    ],
    [
      "joinSchedules",
      joinSchedules([constant(0.5), stepDecay({ lr: 0.2, stepSize: 2 }), constant(0.01)], [4, 9]),
    ],
  ];
  for (const [name, schedule] of schedules) {
    it(`${name}: the same float64 value from a step tensor as from the number, traced by jit too`, () => {
      const traced = jit((step: Tensor) => schedule.traced!(step));
      for (let step = 0; step < 60; step++) {
        const want = schedule(step);
        const t = tensor(step, { dtype: "int32" });
        expect(schedule.traced!(t).item(), `step ${step}`).toBe(want);
        expect(traced(t).item(), `step ${step}, jitted`).toBe(want);
      }
    });
  }

  it("exists only where every joined schedule has one", () => {
    expect(joinSchedules([constant(1), (step) => 1 / (step + 1)], [3]).traced).toBeUndefined();
  });
});
