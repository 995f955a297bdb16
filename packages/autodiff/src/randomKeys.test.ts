import { describe, expect, it } from "vitest";
import {
  Rng,
  TapegradError,
  add,
  div,
  foldIn,
  gather,
  grad,
  less,
  mul,
  prng,
  randomBernoulli,
  randomKey,
  randomNormal,
  randomUniform,
  splitKey,
  stack,
  sum,
  tensor,
  transpose,
  vmap,
  zeros,
  type Tensor,
} from "./index.js";

const values = (t: Tensor) => Array.from(t.data);

/** Key i of a batch of keys [n, 2]. */
const keyAt = (keys: Tensor, i: number) => gather(keys, i);

/** A key's two words, unsigned, as an Rng's state holds them. */
const wordsOf = (key: Tensor): [number, number] => {
  const [a, b] = values(key);
  return [a! >>> 0, b! >>> 0];
};

function moments(xs: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - mean) ** 2;
  return { mean, variance: v / xs.length };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = moments(a);
  const mb = moments(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i]! - ma.mean) * (b[i]! - mb.mean);
  return c / a.length / Math.sqrt(ma.variance * mb.variance);
}

/** Fails unless `fn` throws a TapegradError of `code` saying `op: …` and naming `argument`. */
function expectRejected(fn: () => unknown, op: string, argument: string, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${op} to throw`).toBeInstanceOf(TapegradError);
  const error = caught as TapegradError;
  expect(error.code).toBe(code);
  expect(error.message.startsWith(`${op}: `), error.message).toBe(true);
  expect(error.message, error.message).toContain(argument);
}

describe("keys", () => {
  it("a key is an int32 [2] holding the key words of prng(seed)", () => {
    for (const seed of [0, 1, 12345, 2 ** 40 + 3]) {
      const key = randomKey(seed);
      expect(key.dtype).toBe("int32");
      expect(key.shape).toEqual([2]);
      expect(wordsOf(key)).toEqual(prng(seed).getState().key);
    }
    expect(values(randomKey(7))).toEqual(values(randomKey(7)));
    expect(values(randomKey(7))).not.toEqual(values(randomKey(8)));
  });

  it("splitKey gives n keys [n, 2]: the keys of n successive Rng.splits, all distinct", () => {
    const key = randomKey(3);
    const keys = splitKey(key, 5);
    expect(keys.shape).toEqual([5, 2]);
    const rng = Rng.fromState({ key: wordsOf(key), counter: 0 });
    for (let i = 0; i < 5; i++) {
      expect(wordsOf(keyAt(keys, i))).toEqual(rng.split().getState().key);
    }
    const distinct = new Set([key, ...[0, 1, 2, 3, 4].map((i) => keyAt(keys, i))].map(String));
    expect(distinct.size).toBe(6);
    // Two keys by default, and a smaller split is a prefix of a larger one.
    expect(values(splitKey(key))).toEqual(values(keys).slice(0, 4));
    expect(splitKey(key, 0).shape).toEqual([0, 2]);
  });

  it("a batch of keys [..., 2] is split key by key", () => {
    const keys = splitKey(randomKey(4), 3);
    const split = splitKey(keys, 2);
    expect(split.shape).toEqual([3, 2, 2]);
    const each = [0, 1, 2].map((i) => values(splitKey(keyAt(keys, i), 2)));
    expect(values(split)).toEqual(each.flat());
  });

  it("foldIn is deterministic, and different data give different keys", () => {
    const key = randomKey(5);
    expect(values(foldIn(key, 3))).toEqual(values(foldIn(key, 3)));
    const folded = [0, 1, 2, 2 ** 32, 2 ** 32 + 1].map((d) => String(values(foldIn(key, d))));
    expect(new Set([...folded, String(values(key))]).size).toBe(6);
    // And the same data folded into different keys gives different keys.
    expect(values(foldIn(randomKey(6), 1))).not.toEqual(values(foldIn(key, 1)));
    // Its words are none of the words the key's own draws use.
    const stream = Rng.fromState({ key: wordsOf(key), counter: 0 });
    const used = new Set(Array.from({ length: 10_000 }, () => stream.nextWord()));
    for (const d of [0, 1, 2, 3])
      expect(wordsOf(foldIn(key, d)).some((w) => used.has(w))).toBe(false);
    const keys = splitKey(key, 3);
    expect(values(foldIn(keys, 9))).toEqual(
      [0, 1, 2].flatMap((i) => values(foldIn(keyAt(keys, i), 9))),
    );
  });
});

describe("draws", () => {
  it("the same key gives the same numbers; a draw is the first draw of an Rng on the key", () => {
    const key = randomKey(11);
    const rng = () => Rng.fromState({ key: wordsOf(key), counter: 0 });
    const uniform = randomUniform(key, [4, 3], { low: -2, high: 5, dtype: "float64" });
    expect(values(uniform)).toEqual(
      values(randomUniform(key, [4, 3], { low: -2, high: 5, dtype: "float64" })),
    );
    expect(values(uniform)).toEqual(
      values(rng().uniform([4, 3], { low: -2, high: 5, dtype: "float64" })),
    );
    expect(values(randomNormal(key, [6]))).toEqual(values(prng(11).normal([6])));
    expect(randomNormal(key, [2, 2], { dtype: "float64" }).dtype).toBe("float64");
    // A Bernoulli draw compares the key's uniform [0, 1) numbers with p.
    const u = randomUniform(key, [50], { dtype: "float64" });
    expect(values(randomBernoulli(key, 0.3, [50]))).toEqual(values(less(u, 0.3)));
  });

  it("a batch of keys [k, 2] draws [k, ...shape], each key's block its own draw", () => {
    const keys = splitKey(randomKey(12), 3);
    const batch = randomNormal(keys, [2, 2]);
    expect(batch.shape).toEqual([3, 2, 2]);
    expect(values(batch)).toEqual(
      [0, 1, 2].flatMap((i) => values(randomNormal(keyAt(keys, i), [2, 2]))),
    );
  });

  it("split keys, folded keys and the parent draw uncorrelated streams", () => {
    const n = 40_000;
    const parent = randomKey(13);
    const keys = [parent, ...[0, 1, 2, 3].map((i) => keyAt(splitKey(parent, 4), i))];
    keys.push(foldIn(parent, 0), foldIn(parent, 1), keyAt(splitKey(keys[1]!, 2), 0));
    const streams = keys.map((k) => randomUniform(k, [n], { dtype: "float64" }).data);
    // The correlation of independent streams has standard deviation 1/√n: allow 5 of them.
    const bound = 5 / Math.sqrt(n);
    for (let a = 0; a < streams.length; a++) {
      for (let b = a + 1; b < streams.length; b++) {
        expect(Math.abs(correlation(streams[a]!, streams[b]!)), `keys ${a} and ${b}`).toBeLessThan(
          bound,
        );
      }
    }
    // A stream is not correlated with itself shifted by one either (no lag-1 structure).
    const s = streams[0]!;
    expect(Math.abs(correlation(s.subarray(0, n - 1), s.subarray(1)))).toBeLessThan(bound);
  });

  // n draws: a mean's standard error is σ/√n and a variance's about σ²·√(2/n) (normal) or
  // below; the bounds allow 5 standard errors, so a correct sampler passes at any seed.
  const n = 100_000;
  const within = (got: number, want: number, standardError: number) =>
    expect(Math.abs(got - want)).toBeLessThan(5 * standardError);

  it("normal draws have the mean and variance asked for", () => {
    const { mean, variance } = moments(
      randomNormal(randomKey(21), [n], { mean: 2, std: 3, dtype: "float64" }).data,
    );
    within(mean, 2, 3 / Math.sqrt(n));
    within(variance, 9, 9 * Math.sqrt(2 / n));
  });

  it("uniform draws lie in [low, high), mean (low + high)/2, variance (high − low)²/12", () => {
    const data = randomUniform(randomKey(22), [n], { low: -1, high: 3 }).data;
    expect(data.every((v) => v >= -1 && v < 3)).toBe(true);
    const { mean, variance } = moments(data);
    const sd = 4 / Math.sqrt(12);
    within(mean, 1, sd / Math.sqrt(n));
    // The variance of a uniform's squared deviation is (h − l)⁴/180: standard error √(…/n).
    within(variance, sd ** 2, Math.sqrt(4 ** 4 / 180 / n));
  });

  it("Bernoulli draws are 0/1, mean p, variance p(1 − p); p = 0 and 1 are exact", () => {
    const p = 0.3;
    const data = randomBernoulli(randomKey(23), p, [n]).data;
    expect(data.every((v) => v === 0 || v === 1)).toBe(true);
    const { mean, variance } = moments(data);
    within(mean, p, Math.sqrt((p * (1 - p)) / n));
    // variance = mean(1 − mean) for 0/1 values, so it is as close as the mean.
    within(variance, p * (1 - p), Math.sqrt((p * (1 - p)) / n));
    expect(values(randomBernoulli(randomKey(23), 0, [100])).every((v) => v === 0)).toBe(true);
    expect(values(randomBernoulli(randomKey(23), 1, [100])).every((v) => v === 1)).toBe(true);
    expect(randomBernoulli(randomKey(23), p, [3], { dtype: "int32" }).dtype).toBe("int32");
  });
});

describe("under vmap", () => {
  /** One example's computation with several draws and a split inside. */
  const draws = (key: Tensor) => {
    const [a, b] = [keyAt(splitKey(key, 2), 0), keyAt(splitKey(key, 2), 1)];
    return add(randomNormal(a, [3]), mul(randomBernoulli(b, 0.5, [3]), randomUniform(key, [3])));
  };

  it("mapped split keys give each slice the draws of its own key", () => {
    const keys = splitKey(randomKey(31), 4);
    const batched = vmap(draws, { inAxes: [0] })(keys);
    const each = stack(
      [0, 1, 2, 3].map((i) => draws(keyAt(keys, i))),
      0,
    );
    expect(batched.shape).toEqual([4, 3]);
    expect(values(batched)).toEqual(values(each));
    const rows = batched.toArray() as number[][];
    expect(new Set(rows.map(String)).size).toBe(4);
  });

  it("keys mapped along their last axis ([2, n]) and nested vmaps draw the same", () => {
    const keys = splitKey(randomKey(32), 4);
    const byColumn = vmap(draws, { inAxes: [1] })(transpose(keys));
    expect(values(byColumn)).toEqual(values(vmap(draws)(keys)));

    const grid = splitKey(keys, 3); // [4, 3, 2]
    const nested = vmap(vmap(draws))(grid);
    expect(nested.shape).toEqual([4, 3, 3]);
    const each = [0, 1, 2, 3].flatMap((i) =>
      [0, 1, 2].flatMap((j) => values(draws(keyAt(keyAt(grid, i), j)))),
    );
    expect(values(nested)).toEqual(each);
  });

  it("an unmapped key gives every slice the same numbers, as an Rng does", () => {
    const rows = [tensor([0, 1, 2]), tensor([10, 20, 30])];
    const xs = stack(rows, 0);
    const key = randomKey(33);
    const noisy = (x: Tensor, k: Tensor) => add(x, randomNormal(k, [3]));
    // Each slice is noisy(x_i, key): the same noise added to every row.
    const shared = vmap(noisy, { inAxes: [0, null] })(xs, key);
    expect(values(shared)).toEqual(rows.flatMap((x) => values(noisy(x, key))));
    const alone = vmap(() => randomNormal(key, [3]), { axisSize: 2 })();
    expect(values(alone)).toEqual([
      ...values(randomNormal(key, [3])),
      ...values(randomNormal(key, [3])),
    ]);
    // An Rng draws once, when vmap traces the function: the same noise in every row, too.
    const rng = prng(33);
    const fromRng = vmap((x: Tensor) => add(x, rng.normal([3])))(xs);
    const noise = prng(33).normal([3]);
    expect(values(fromRng)).toEqual(rows.flatMap((x) => values(add(x, noise))));
  });

  it("dropout per example: mapped split keys give every example its own mask", () => {
    const rate = 0.5;
    const dropout = (x: Tensor, key: Tensor) =>
      div(mul(x, randomBernoulli(key, 1 - rate, x.shape)), 1 - rate);
    const xs = tensor(
      Array.from({ length: 8 * 16 }, () => 1),
      { shape: [8, 16] },
    );
    const keys = splitKey(randomKey(34), 8);
    const dropped = vmap(dropout)(xs, keys);
    const masks = (dropped.toArray() as number[][]).map((row) => row.map((v) => (v === 0 ? 0 : 1)));
    expect(new Set(masks.map(String)).size).toBe(8);
    // Kept units are scaled by 1 / (1 − rate), and each example's row is its key's mask.
    expect(values(dropped).every((v) => v === 0 || v === 2)).toBe(true);
    for (let i = 0; i < 8; i++) {
      expect(masks[i]).toEqual(values(randomBernoulli(keyAt(keys, i), 1 - rate, [16])));
    }
    // The same key for every example (unmapped) drops the same units everywhere.
    const shared = vmap(dropout, { inAxes: [0, null] })(xs, randomKey(34)).toArray() as number[][];
    expect(new Set(shared.map(String)).size).toBe(1);
  });

  it("noise is a constant to grad, and vmap(grad) with mapped keys gives per-example noise", () => {
    const x = tensor([1, 2, 3], { dtype: "float64" });
    const loss = (x: Tensor, key: Tensor) =>
      sum(mul(x, randomNormal(key, [3], { dtype: "float64" })));
    const key = randomKey(35);
    expect(values(grad(loss)(x, key))).toEqual(
      values(randomNormal(key, [3], { dtype: "float64" })),
    );
    const keys = splitKey(key, 2);
    const perExample = vmap(grad(loss), { inAxes: [null, 0] })(x, keys);
    expect(values(perExample)).toEqual(values(randomNormal(keys, [3], { dtype: "float64" })));
  });
});

describe("bad arguments", () => {
  const key = randomKey(0);

  it("a key that is not a key tensor", () => {
    for (const [op, call] of [
      ["randomUniform", (k: unknown) => randomUniform(k as Tensor, [2])],
      ["randomNormal", (k: unknown) => randomNormal(k as Tensor, [2])],
      ["randomBernoulli", (k: unknown) => randomBernoulli(k as Tensor, 0.5, [2])],
      ["splitKey", (k: unknown) => splitKey(k as Tensor)],
      ["foldIn", (k: unknown) => foldIn(k as Tensor, 1)],
    ] as const) {
      expectRejected(() => call(7), op, "key", "INVALID_ARGUMENT");
      expectRejected(() => call([1, 2]), op, "key", "INVALID_ARGUMENT");
      expectRejected(() => call(tensor([1, 2])), op, "key", "DTYPE_MISMATCH");
      expectRejected(
        () => call(tensor([1, 2, 3], { dtype: "int32" })),
        op,
        "key",
        "SHAPE_MISMATCH",
      );
      expectRejected(() => call(tensor(1, { dtype: "int32" })), op, "key", "SHAPE_MISMATCH");
    }
  });

  it("under vmap, a mapped tensor whose slices are not keys", () => {
    // [2] mapped along its axis: two scalar slices, though the whole has a key's shape.
    const scalars = tensor([1, 2], { dtype: "int32" });
    expectRejected(
      () => vmap((k: Tensor) => randomNormal(k, [2]))(scalars),
      "randomNormal",
      "key",
      "SHAPE_MISMATCH",
    );
    const threes = zeros([4, 3], "int32");
    expectRejected(
      () => vmap((k: Tensor) => splitKey(k))(threes),
      "splitKey",
      "key",
      "SHAPE_MISMATCH",
    );
  });

  it("seeds, n, data, p, ranges, shapes and dtypes out of bounds", () => {
    expectRejected(() => randomKey(-1), "randomKey", "seed", "INVALID_ARGUMENT");
    expectRejected(() => randomKey(1.5), "randomKey", "seed", "INVALID_ARGUMENT");
    expectRejected(() => splitKey(key, -1), "splitKey", "n", "INVALID_ARGUMENT");
    expectRejected(() => splitKey(key, 2.5), "splitKey", "n", "INVALID_ARGUMENT");
    expectRejected(() => foldIn(key, -3), "foldIn", "data", "INVALID_ARGUMENT");
    for (const p of [-0.1, 1.5, NaN]) {
      expectRejected(
        () => randomBernoulli(key, p, [2]),
        "randomBernoulli",
        "p",
        "INVALID_ARGUMENT",
      );
    }
    expectRejected(
      () => randomUniform(key, [2], { low: 1, high: 1 }),
      "randomUniform",
      "low",
      "INVALID_ARGUMENT",
    );
    expectRejected(
      () => randomUniform(key, [2], { high: Infinity }),
      "randomUniform",
      "high",
      "INVALID_ARGUMENT",
    );
    // Distinct in float64, the same float32: no float32 value lies in [low, high).
    expectRejected(
      () => randomUniform(key, [2], { low: 1, high: 1 + 1e-12 }),
      "randomUniform",
      "float32",
      "INVALID_ARGUMENT",
    );
    expect(randomUniform(key, [2], { low: 1, high: 1 + 1e-12, dtype: "float64" }).shape).toEqual([
      2,
    ]);
    expectRejected(
      () => randomNormal(key, [2], { std: -1 }),
      "randomNormal",
      "std",
      "INVALID_ARGUMENT",
    );
    expectRejected(
      () => randomNormal(key, [2], { dtype: "int32" as "float32" }),
      "randomNormal",
      "dtype",
      "INVALID_ARGUMENT",
    );
    expectRejected(() => randomNormal(key, [-1]), "randomNormal", "shape", "INVALID_ARGUMENT");
    expectRejected(
      () => randomUniform(key, [2 ** 31]),
      "randomUniform",
      "shape",
      "INVALID_ARGUMENT",
    );
    expectRejected(
      () => randomBernoulli(key, 0.5, [2], { dtype: "int8" as "int32" }),
      "randomBernoulli",
      "dtype",
      "INVALID_ARGUMENT",
    );
  });
});
