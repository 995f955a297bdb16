import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng, TapegradError, prng, type Tensor } from "./index.js";

const words = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.nextWord());
const values = (t: Tensor) => Array.from(t.data);

function expectArgumentError(fn: () => unknown, fnName: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${fnName} to throw`).toBeInstanceOf(TapegradError);
  expect((caught as TapegradError).code).toBe("INVALID_ARGUMENT");
  expect((caught as TapegradError).message.startsWith(`${fnName}: `)).toBe(true);
}

function meanAndStd(xs: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length) };
}

describe("determinism", () => {
  it("the same seed gives identical sequences of every kind of draw", () => {
    const draw = (rng: Rng) => [
      words(rng, 5),
      rng.nextDouble(),
      values(rng.uniform([3, 2], { low: -2, high: 3 })),
      values(rng.normal([4], { dtype: "float64" })),
      values(rng.randint(0, 100, [6])),
      values(rng.permutation(8)),
      words(rng.split(), 3),
      words(rng, 2),
    ];
    expect(draw(prng(1234))).toEqual(draw(prng(1234)));
  });

  it("the same seed gives the same words (property)", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (seed) => {
        expect(words(prng(seed), 4)).toEqual(words(prng(seed), 4));
      }),
      { numRuns: 50 },
    );
  });

  it("different seeds give different streams (property, including seeds beyond 2^32)", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        fc.pre(a !== b);
        expect(words(prng(a), 4)).not.toEqual(words(prng(b), 4));
      }),
      { numRuns: 200 },
    );
    // Seeds that agree in their low 32 bits still differ.
    expect(words(prng(5), 4)).not.toEqual(words(prng(5 + 2 ** 32), 4));
    expect(words(prng(0), 4)).not.toEqual(words(prng(1), 4));
  });

  it("pins the streams of fixed seeds, so results stay reproducible across releases and platforms", () => {
    expect(words(prng(0), 3)).toEqual([2072666183, 916182102, 3313718959]);
    const rng = prng(123);
    expect(values(rng.normal([3], { dtype: "float64" }))).toEqual([
      0.4520691591667096, 0.720056188967524, 0.4567342054530507,
    ]);
    expect(values(rng.permutation(5))).toEqual([3, 2, 4, 1, 0]);
  });

  it("draws depend only on the order of draws, not on how they are batched", () => {
    const a = prng(9);
    const batched = values(a.uniform([6], { dtype: "float64" }));
    const b = prng(9);
    const oneByOne = Array.from({ length: 6 }, () => b.uniform([], { dtype: "float64" }).item());
    expect(oneByOne).toEqual(batched);
  });
});

describe("split", () => {
  it("gives a stream different from the parent's continuation", () => {
    const parent = prng(42);
    const child = parent.split();
    expect(words(child, 8)).not.toEqual(words(parent, 8));
  });

  it("differs from a fresh generator of the same seed, and splits twice give different children", () => {
    const parent = prng(42);
    const c1 = parent.split();
    const c2 = parent.split();
    const w1 = words(c1, 6);
    expect(w1).not.toEqual(words(c2, 6));
    expect(w1).not.toEqual(words(prng(42), 6));
  });

  it("is deterministic and advances the parent", () => {
    const a = prng(7);
    const b = prng(7);
    expect(words(a.split(), 4)).toEqual(words(b.split(), 4));
    expect(a.getState().counter).toBeGreaterThan(0);
    expect(words(a, 4)).toEqual(words(b, 4));
  });

  it("children of different parents differ (property)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (a, b) => {
        fc.pre(a !== b);
        expect(words(prng(a).split(), 4)).not.toEqual(words(prng(b).split(), 4));
      }),
      { numRuns: 100 },
    );
  });
});

describe("getState / Rng.fromState", () => {
  it("round trip continues identically", () => {
    const rng = prng(2024);
    rng.normal([17]);
    rng.randint(0, 3, [5]);
    const state = rng.getState();
    const restored = Rng.fromState(state);
    expect(values(restored.uniform([10], { dtype: "float64" }))).toEqual(
      values(rng.uniform([10], { dtype: "float64" })),
    );
    expect(values(restored.permutation(12))).toEqual(values(rng.permutation(12)));
    expect(words(restored.split(), 3)).toEqual(words(rng.split(), 3));
  });

  it("the state is a JSON-serializable snapshot that later draws do not change", () => {
    const rng = prng(5);
    const state = rng.getState();
    const json = JSON.stringify(state);
    const expected = words(rng, 5);
    expect(JSON.stringify(state)).toBe(json);
    expect(words(Rng.fromState(JSON.parse(json)), 5)).toEqual(expected);
  });

  it("round trips at any counter (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.integer({ min: 0, max: 2 ** 40 }), (seed, counter) => {
        const key = prng(seed).getState().key;
        const rng = Rng.fromState({ key, counter });
        expect(rng.getState()).toEqual({ key: [...key], counter });
        const again = Rng.fromState(rng.getState());
        expect(words(again, 3)).toEqual(words(rng, 3));
      }),
      { numRuns: 50 },
    );
  });

  it("fromState rejects malformed states, naming itself", () => {
    expectArgumentError(() => Rng.fromState({ key: [1, 2], counter: -1 }), "Rng.fromState");
    expectArgumentError(() => Rng.fromState({ key: [1, 2], counter: 1.5 }), "Rng.fromState");
    expectArgumentError(() => Rng.fromState({ key: [0.5, 2], counter: 0 }), "Rng.fromState");
    expectArgumentError(() => Rng.fromState({ key: [1, NaN], counter: 0 }), "Rng.fromState");
  });
});

describe("uniform", () => {
  it("stays in [low, high) with mean and variance of the uniform distribution", () => {
    const n = 100_000;
    const x = prng(1).uniform([n], { low: -2, high: 3, dtype: "float64" });
    const xs = x.data;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      min = Math.min(min, xs[i]!);
      max = Math.max(max, xs[i]!);
    }
    expect(min).toBeGreaterThanOrEqual(-2);
    expect(max).toBeLessThan(3);
    // Far inside the range: both ends are approached.
    expect(min).toBeLessThan(-1.99);
    expect(max).toBeGreaterThan(2.99);
    const { mean, std } = meanAndStd(xs);
    // σ of the mean is 5/√12/√n ≈ 0.0046: a tolerance of 0.05 is ~10σ.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(std - 5 / Math.sqrt(12))).toBeLessThan(0.05);
  });

  it("defaults to [0, 1) float32 and keeps the requested shape", () => {
    const x = prng(3).uniform([4, 5]);
    expect(x.dtype).toBe("float32");
    expect(x.shape).toEqual([4, 5]);
    for (const v of x.data) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
    }
    expect(prng(3).uniform([]).shape).toEqual([]);
    expect(prng(3).uniform([0, 3]).size).toBe(0);
  });

  it("fills every decile roughly equally", () => {
    const n = 100_000;
    const counts = new Array<number>(10).fill(0);
    for (const v of prng(11).uniform([n], { dtype: "float64" }).data) counts[Math.floor(v * 10)]!++;
    for (const c of counts) expect(Math.abs(c - n / 10)).toBeLessThan(1000); // σ ≈ 95
  });

  it("consecutive draws are uncorrelated", () => {
    const n = 50_000;
    const xs = prng(12).uniform([n], { dtype: "float64" }).data;
    let s = 0;
    for (let i = 1; i < n; i++) s += (xs[i]! - 0.5) * (xs[i - 1]! - 0.5);
    const corr = s / (n - 1) / (1 / 12);
    expect(Math.abs(corr)).toBeLessThan(0.05); // σ ≈ 0.0045
  });

  it("rejects low ≥ high and invalid shapes, naming uniform", () => {
    const rng = prng(0);
    expectArgumentError(() => rng.uniform([2], { low: 1, high: 1 }), "uniform");
    expectArgumentError(() => rng.uniform([2], { low: 2, high: 1 }), "uniform");
    expectArgumentError(() => rng.uniform([2], { low: NaN }), "uniform");
    expectArgumentError(() => rng.uniform([-1]), "uniform");
    expectArgumentError(() => rng.uniform([1.5]), "uniform");
  });

  // BUG (random.ts, `Rng.uniform`): the float64 value low + (high − low)·u, with u ≤ 1 − 2^−53, is
  // rounded to float32 when stored; any u ≥ 1 − 2^−25 rounds to exactly `high`, breaking the
  // documented [low, high) (about 1 draw in 3·10^7; reproduced deterministically below by restoring
  // seed 0's stream at a counter whose word has its top 25 bits set). Fix: after rounding to the dtype,
  // replace a result ≥ high by the largest representable value below high (or redraw).
  it("a float32 uniform draw never equals high", () => {
    const key = prng(0).getState().key;
    const rng = Rng.fromState({ key, counter: 48965767 });
    expect(rng.uniform([1]).item()).toBeLessThan(1);
  });
});

describe("normal", () => {
  it("has mean ≈ 0 and std ≈ 1 (n = 100k)", () => {
    const x = prng(2).normal([100_000], { dtype: "float64" });
    const { mean, std } = meanAndStd(x.data);
    expect(Math.abs(mean)).toBeLessThan(0.03); // σ of the mean ≈ 0.003
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    // Tails: about 4.55% beyond 2σ, symmetric.
    let above = 0;
    let below = 0;
    for (const v of x.data) {
      if (v > 2) above++;
      if (v < -2) below++;
    }
    expect(Math.abs(above / 100_000 - 0.02275)).toBeLessThan(0.005);
    expect(Math.abs(below / 100_000 - 0.02275)).toBeLessThan(0.005);
    expect(Array.from(x.data).every(Number.isFinite)).toBe(true);
  });

  it("honours mean, std, dtype and shape", () => {
    const x = prng(4).normal([200, 100], { mean: 5, std: 0.5 });
    expect(x.dtype).toBe("float32");
    expect(x.shape).toEqual([200, 100]);
    const { mean, std } = meanAndStd(x.data);
    expect(Math.abs(mean - 5)).toBeLessThan(0.02);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.02);
    expect(values(prng(4).normal([3], { mean: 2, std: 0 }))).toEqual([2, 2, 2]);
  });

  it("rejects a negative or NaN std and invalid shapes, naming normal", () => {
    const rng = prng(0);
    expectArgumentError(() => rng.normal([2], { std: -1 }), "normal");
    expectArgumentError(() => rng.normal([2], { std: NaN }), "normal");
    expectArgumentError(() => rng.normal([2, -3]), "normal");
  });
});

describe("randint", () => {
  it("gives int32 values in [low, high) with roughly uniform counts", () => {
    const n = 100_000;
    const x = prng(5).randint(-3, 7, [n]);
    expect(x.dtype).toBe("int32");
    const counts = new Map<number, number>();
    for (const v of x.data) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6]);
    // Chi-square with 9 degrees of freedom: mean 9, P(χ² > 40) < 1e-5.
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - n / 10) ** 2 / (n / 10);
    expect(chi2).toBeLessThan(40);
  });

  it("stays in range for any bounds (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.nat(),
        (low, width, seed) => {
          const x = prng(seed).randint(low, low + width, [20]);
          for (const v of x.data) {
            expect(v).toBeGreaterThanOrEqual(low);
            expect(v).toBeLessThan(low + width);
          }
        },
      ),
      { numRuns: 100 },
    );
    expect(values(prng(0).randint(4, 5, [3]))).toEqual([4, 4, 4]);
  });

  it("rejects non-integer or empty ranges, naming randint", () => {
    const rng = prng(0);
    expectArgumentError(() => rng.randint(0, 0, [2]), "randint");
    expectArgumentError(() => rng.randint(3, 1, [2]), "randint");
    expectArgumentError(() => rng.randint(0.5, 3, [2]), "randint");
    expectArgumentError(() => rng.randint(0, Infinity, [2]), "randint");
    expectArgumentError(() => rng.randint(0, 2, [-2]), "randint");
  });

  // BUG (random.ts, `Rng.randint`): bounds are only checked to be integers, not to lie within
  // int32, so values outside [−2^31, 2^31 − 1] wrap silently when stored in the Int32Array:
  // randint(2^31, 2^31 + 10) returns values near −2^31, outside [low, high).
  // Fix: reject `low < -2**31 || high > 2**31` with argumentError("randint", …).
  it("randint rejects bounds that do not fit int32 instead of wrapping", () => {
    const rng = prng(1);
    expectArgumentError(() => rng.randint(2 ** 31, 2 ** 31 + 10, [3]), "randint");
  });
});

describe("permutation", () => {
  it("is a permutation of 0…n−1 (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 200 }), fc.nat(), (n, seed) => {
        const p = prng(seed).permutation(n);
        expect(p.dtype).toBe("int32");
        expect(p.shape).toEqual([n]);
        expect(values(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 100 },
    );
    expect(values(prng(0).permutation(0))).toEqual([]);
    expect(values(prng(0).permutation(1))).toEqual([0]);
  });

  it("is roughly uniform: each of the 6 orders of 3 elements appears about equally often", () => {
    const rng = prng(8);
    const counts = new Map<string, number>();
    const n = 12_000;
    for (let i = 0; i < n; i++) {
      const key = values(rng.permutation(3)).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - n / 6)).toBeLessThan(250); // σ ≈ 41
  });

  it("moves elements: a permutation of 50 is almost never the identity", () => {
    const p = values(prng(3).permutation(50));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("rejects negative and fractional n, naming permutation", () => {
    const rng = prng(0);
    expectArgumentError(() => rng.permutation(-1), "permutation");
    expectArgumentError(() => rng.permutation(2.5), "permutation");
    expectArgumentError(() => rng.permutation(NaN), "permutation");
  });
});

describe("prng", () => {
  it("accepts 0 and the largest safe integer", () => {
    expect(() => prng(0)).not.toThrow();
    expect(() => prng(Number.MAX_SAFE_INTEGER)).not.toThrow();
  });

  it("rejects negative, fractional, unsafe and non-finite seeds, naming prng", () => {
    expectArgumentError(() => prng(-1), "prng");
    expectArgumentError(() => prng(1.5), "prng");
    expectArgumentError(() => prng(2 ** 53), "prng");
    expectArgumentError(() => prng(NaN), "prng");
    expectArgumentError(() => prng(Infinity), "prng");
  });

  it("nextDouble is in [0, 1)", () => {
    const rng = prng(77);
    for (let i = 0; i < 10_000; i++) {
      const d = rng.nextDouble();
      expect(d >= 0 && d < 1).toBe(true);
    }
  });
});
