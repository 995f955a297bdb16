import { isDType, type DType, type FloatDType, type TypedArray } from "./dtype.js";
import { argumentError, dtypeError, shapeError, show, showShape } from "./errors.js";
import { Rng, hash, prng } from "./random.js";
import { defineOp, type BatchResult, type SingleOutput } from "./registry.js";
import type { SampleKit } from "./sampling.js";
import { assertSizeWithinLimit, assertValidShape, shapeSize } from "./shape.js";
import { Tensor } from "./tensor.js";
import { batchFirst } from "./ops/transpose.js";
import { assertTensor, optionsArgument, produce } from "./ops/util.js";

// Random keys as values, JAX's way: a key is an int32 tensor [2] holding the two 32-bit words
// of a stream key, and every draw is a pure function of its key. Being tensors, keys can be
// mapped arguments of vmap: split a key into n, map over them, and each slice draws its own
// stream — the numbers it would draw called alone with its key. A key that is not mapped draws
// the same numbers in every slice, as a stateful Rng does.
//
// Each op takes a batch of keys [..., 2] as well and draws one stream per key, its results laid
// out as [...batch, ...]: that is the whole batching rule (a mapped key is such a batch). No op
// has a vjp, as oneHot has none: the only input is an integer key, so draws are constants to
// grad and jvp.
//
// A key holds the same 64 bits as an Rng's key, and a draw from a key is the first draw of a
// fresh Rng on it (random.ts makes both: one hash, one uniform and one normal sampler). So
// randomNormal(randomKey(s), shape) is prng(s).normal(shape), and splitKey's keys are those of
// Rng.split.
//
// Names: `randomKey` makes a key and `splitKey`/`foldIn` derive keys (JAX's verbs); draws are
// `random` + the distribution of the Rng method they match (`randomUniform` ↔ `rng.uniform`).

/** The length of a key tensor's last axis: a key's two 32-bit words. */
const WORDS = 2;

/**
 * Requires a key or a batch of keys: int32 of shape [..., 2]. `shape` is the one the caller's
 * function sees (one slice's, under vmap).
 */
function checkKey(op: string, dtype: DType, shape: readonly number[]): void {
  if (dtype !== "int32") {
    throw dtypeError(op, `key must be an int32 key from randomKey or splitKey, got ${dtype}`);
  }
  if (shape.length === 0 || shape[shape.length - 1] !== WORDS) {
    throw shapeError(
      op,
      `key must have shape [2], or [..., 2] for a batch of keys, got ${showShape(shape)}`,
    );
  }
}

/** Calls `visit` with a fresh Rng on each key of the batch `keys` [..., 2], in row-major order. */
function eachKey(keys: Tensor, visit: (rng: Rng, j: number) => void): void {
  // Keys store the unsigned words as int32 bit patterns; >>> 0 reads them back unsigned.
  const words = keys.buffer;
  for (let j = 0; j < words.length / WORDS; j++) {
    visit(Rng.create([words[WORDS * j]! >>> 0, words[WORDS * j + 1]! >>> 0]), j);
  }
}

/** A tensor of keys [...shape, 2] from their unsigned words. */
function keysFrom(shape: readonly number[], fill: (words: TypedArray) => void): Tensor {
  return produce("int32", [...shape, WORDS], fill);
}

/**
 * The result of a draw for a batch of keys [...K, 2]: shape [...K, ...shape], key j's block
 * written by `draw` from a fresh Rng on that key.
 */
function drawPerKey(
  op: string,
  keys: Tensor,
  shape: readonly number[],
  dtype: DType,
  draw: (rng: Rng, out: TypedArray, start: number, count: number) => void,
): Tensor {
  checkKey(op, keys.dtype, keys.shape);
  assertValidShape(op, shape);
  const full = [...keys.shape.slice(0, -1), ...shape];
  assertSizeWithinLimit(op, full);
  const count = shapeSize(shape);
  return produce(dtype, full, (out) => eachKey(keys, (rng, j) => draw(rng, out, j * count, count)));
}

/**
 * The batching rule of every key op. The op already takes a batch of keys and puts their batch
 * axes first in its result, so a mapped key is passed on as it lies and the batch axis stays
 * where it is — unless it is the words axis (a key batch stored as [2, n]): then it moves first.
 */
function batchKeys(
  op: string,
  keys: Tensor,
  axis: number,
  apply: (keys: Tensor) => Tensor,
): BatchResult<SingleOutput> {
  // Checked on one slice's shape: [n] mapped along its only axis passes the op's own check at
  // n = 2, but each slice is a scalar, not a key.
  checkKey(
    op,
    keys.dtype,
    keys.shape.filter((_, i) => i !== axis),
  );
  if (axis < keys.ndim - 1) return { y: apply(keys), axes: [axis] };
  return { y: apply(batchFirst(keys, axis)), axes: [0] };
}

/** Keys for the property suites: a batch of rank 0–2 of keys with arbitrary int32 words. */
function sampleKeys(kit: SampleKit) {
  return kit
    .shape({ maxRank: 2, maxDim: 3 })
    .chain((batch) =>
      kit.tensor([...batch, WORDS], { dtype: "int32", min: -(2 ** 31), max: 2 ** 31 - 1 }),
    );
}

/** A float dtype attr of a draw, checked (JavaScript callers may pass anything). */
function floatDType(op: string, dtype: unknown): FloatDType {
  if (dtype !== "float32" && dtype !== "float64") {
    throw argumentError(op, `dtype must be float32 or float64, got ${show(dtype)}`);
  }
  return dtype;
}

/**
 * A key made from a seed (a non-negative integer up to 2^53): an int32 tensor of shape [2]
 * holding the key words of prng(seed), so its draws are those of prng(seed).
 */
export function randomKey(seed: number): Tensor {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw argumentError("randomKey", `seed must be a non-negative safe integer, got ${show(seed)}`);
  }
  const [k0, k1] = prng(seed).getState().key;
  return keysFrom([], (out) => {
    out[0] = k0;
    out[1] = k1;
  });
}

interface SplitKeyAttrs {
  readonly n: number;
}

const splitKeyOp = defineOp({
  name: "splitKey",
  inputs: ["key"],
  forward: ([key], { n }: SplitKeyAttrs) => {
    checkKey("splitKey", key.dtype, key.shape);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw argumentError("splitKey", `n must be a non-negative integer, got ${show(n)}`);
    }
    const batch = [...key.shape.slice(0, -1), n];
    assertSizeWithinLimit("splitKey", [...batch, WORDS]);
    return keysFrom(batch, (out) =>
      eachKey(key, (rng, j) => {
        for (let i = 0; i < n; i++) {
          const [a, b] = rng.split().getState().key;
          out[WORDS * (j * n + i)] = a;
          out[WORDS * (j * n + i) + 1] = b;
        }
      }),
    );
  },
  batch: ({ inputs: [key], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    batchKeys("splitKey", key, axis!, (k) => splitKeyOp(k, attrs)),
  samples: (kit) =>
    kit.fc
      .tuple(sampleKeys(kit), kit.fc.integer({ min: 0, max: 3 }))
      .map(([key, n]) => ({ inputs: [key], attrs: { n } })),
});

/**
 * n new keys from `key`, shape [n, 2] ([..., n, 2] for a batch of keys): key i is the i-th
 * Rng.split of a generator on `key`, so they are independent of each other and of `key`'s draws.
 * Not differentiable (keys are integers).
 */
export function splitKey(key: Tensor, n = 2): Tensor {
  assertTensor("splitKey", "key", key);
  return splitKeyOp(key, { n });
}

interface FoldInAttrs {
  readonly data: number;
}

// foldIn's key words are words of `key`'s stream at counters whose high 32 bits carry these
// constants (≥ 2^21): past 2^53, so no draw from `key` ever produces them.
const FOLD_WORDS = [0xa4093822, 0x299f31d0] as const;

const foldInOp = defineOp({
  name: "foldIn",
  inputs: ["key"],
  forward: ([key], { data }: FoldInAttrs) => {
    checkKey("foldIn", key.dtype, key.shape);
    if (!Number.isSafeInteger(data) || data < 0) {
      throw argumentError("foldIn", `data must be a non-negative safe integer, got ${show(data)}`);
    }
    const lo = data >>> 0;
    const hi = Math.floor(data / 2 ** 32);
    return keysFrom(key.shape.slice(0, -1), (out) => {
      const words = key.buffer;
      for (let j = 0; j < words.length; j += WORDS) {
        const [k0, k1] = [words[j]! >>> 0, words[j + 1]! >>> 0];
        out[j] = hash(k0, k1, lo, (hi ^ FOLD_WORDS[0]) >>> 0);
        out[j + 1] = hash(k0, k1, lo, (hi ^ FOLD_WORDS[1]) >>> 0);
      }
    });
  },
  batch: ({ inputs: [key], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    batchKeys("foldIn", key, axis!, (k) => foldInOp(k, attrs)),
  samples: (kit) =>
    kit.fc
      .tuple(sampleKeys(kit), kit.fc.integer({ min: 0, max: 2 ** 40 }))
      .map(([key, data]) => ({ inputs: [key], attrs: { data } })),
});

/**
 * A new key from `key` and an integer `data` (a step or layer number, 0 to 2^53), shape [2]
 * ([..., 2] for a batch): the same pair always gives the same key, different data different
 * keys. Not differentiable.
 */
export function foldIn(key: Tensor, data: number): Tensor {
  assertTensor("foldIn", "key", key);
  return foldInOp(key, { data });
}

/** Options of `randomUniform`. */
export interface RandomUniformOptions {
  /** Lower bound, included (default 0). */
  readonly low?: number;
  /** Upper bound, excluded (default 1). */
  readonly high?: number;
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType;
}

interface RandomUniformAttrs extends RandomUniformOptions {
  readonly shape: readonly number[];
}

/**
 * Requires finite low < high whose difference is finite and that stay apart in `dtype`: else
 * Rng.uniform's redraw of values that round up to `high` could never end.
 */
function checkRange(low: unknown, high: unknown, dtype: FloatDType): void {
  const round = dtype === "float32" ? Math.fround : (v: number) => v;
  const valid =
    typeof low === "number" &&
    typeof high === "number" &&
    Number.isFinite(round(low)) &&
    Number.isFinite(round(high)) &&
    Number.isFinite(high - low) &&
    round(low) < round(high);
  if (!valid) {
    throw argumentError(
      "randomUniform",
      `expected finite low < high, distinct in ${dtype}, got low=${show(low)} high=${show(high)}`,
    );
  }
}

const randomUniformOp = defineOp({
  name: "randomUniform",
  inputs: ["key"],
  forward: ([key], { shape, low = 0, high = 1, dtype = "float32" }: RandomUniformAttrs) => {
    const type = floatDType("randomUniform", dtype);
    checkRange(low, high, type);
    return drawPerKey("randomUniform", key, shape, type, (rng, out, start) =>
      out.set(rng.uniform(shape, { low, high, dtype: type }).buffer, start),
    );
  },
  batch: ({ inputs: [key], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    batchKeys("randomUniform", key, axis!, (k) => randomUniformOp(k, attrs)),
  samples: (kit) =>
    kit.fc
      .tuple(
        sampleKeys(kit),
        kit.shape({ maxRank: 2 }),
        kit.fc.double({ min: -4, max: 0, noNaN: true }),
        kit.fc.double({ min: 0.5, max: 4, noNaN: true }),
      )
      .map(([key, shape, low, width]) => ({
        inputs: [key],
        attrs: { shape, low, high: low + width, dtype: "float64" as const },
      })),
});

/**
 * Uniform values in [low, high) of the given shape, drawn from `key` ([...batch, ...shape] for a
 * batch of keys [...batch, 2]: one stream per key). Under vmap, mapped keys draw one stream per
 * slice and an unmapped key the same numbers in every slice. Not differentiable (no float input).
 */
export function randomUniform(
  key: Tensor,
  shape: readonly number[],
  options?: RandomUniformOptions,
): Tensor {
  assertTensor("randomUniform", "key", key);
  return randomUniformOp(key, { ...optionsArgument("randomUniform", options), shape });
}

/** Options of `randomNormal`. */
export interface RandomNormalOptions {
  /** The mean (default 0). */
  readonly mean?: number;
  /** The standard deviation, ≥ 0 (default 1). */
  readonly std?: number;
  /** float32 (default) or float64. */
  readonly dtype?: FloatDType;
}

interface RandomNormalAttrs extends RandomNormalOptions {
  readonly shape: readonly number[];
}

const randomNormalOp = defineOp({
  name: "randomNormal",
  inputs: ["key"],
  forward: ([key], { shape, mean = 0, std = 1, dtype = "float32" }: RandomNormalAttrs) => {
    const type = floatDType("randomNormal", dtype);
    if (typeof mean !== "number" || !Number.isFinite(mean)) {
      throw argumentError("randomNormal", `mean must be a finite number, got ${show(mean)}`);
    }
    if (typeof std !== "number" || !Number.isFinite(std) || std < 0) {
      throw argumentError("randomNormal", `std must be finite and non-negative, got ${show(std)}`);
    }
    return drawPerKey("randomNormal", key, shape, type, (rng, out, start) =>
      out.set(rng.normal(shape, { mean, std, dtype: type }).buffer, start),
    );
  },
  batch: ({ inputs: [key], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    batchKeys("randomNormal", key, axis!, (k) => randomNormalOp(k, attrs)),
  samples: (kit) =>
    kit.fc
      .tuple(
        sampleKeys(kit),
        kit.shape({ maxRank: 2 }),
        kit.fc.double({ min: 0, max: 3, noNaN: true }),
      )
      .map(([key, shape, std]) => ({
        inputs: [key],
        attrs: { shape, mean: 1, std, dtype: "float64" as const },
      })),
});

/**
 * Normal values (Box–Muller) of the given shape, drawn from `key`; a batch of keys [...batch, 2]
 * gives [...batch, ...shape], one stream per key. Under vmap, mapped keys draw one stream per
 * slice and an unmapped key the same numbers in every slice. Not differentiable.
 */
export function randomNormal(
  key: Tensor,
  shape: readonly number[],
  options?: RandomNormalOptions,
): Tensor {
  assertTensor("randomNormal", "key", key);
  return randomNormalOp(key, { ...optionsArgument("randomNormal", options), shape });
}

/** Options of `randomBernoulli`. */
export interface RandomBernoulliOptions {
  /** The dtype of the 0/1 values: float32 (default, ready to multiply with), float64 or int32. */
  readonly dtype?: DType;
}

interface RandomBernoulliAttrs extends RandomBernoulliOptions {
  readonly p: number;
  readonly shape: readonly number[];
}

const randomBernoulliOp = defineOp({
  name: "randomBernoulli",
  inputs: ["key"],
  forward: ([key], { p, shape, dtype = "float32" }: RandomBernoulliAttrs) => {
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw argumentError("randomBernoulli", `p must be a probability in [0, 1], got ${show(p)}`);
    }
    if (!isDType(dtype)) {
      throw argumentError(
        "randomBernoulli",
        `dtype must be float32, float64 or int32, got ${show(dtype)}`,
      );
    }
    // u < p for u uniform in [0, 1): exactly 0s at p = 0 and 1s at p = 1.
    return drawPerKey("randomBernoulli", key, shape, dtype, (rng, out, start, count) => {
      for (let i = start; i < start + count; i++) out[i] = rng.nextDouble() < p ? 1 : 0;
    });
  },
  batch: ({ inputs: [key], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    batchKeys("randomBernoulli", key, axis!, (k) => randomBernoulliOp(k, attrs)),
  samples: (kit) =>
    kit.fc
      .tuple(
        sampleKeys(kit),
        kit.shape({ maxRank: 2 }),
        kit.fc.double({ min: 0, max: 1, noNaN: true }),
        kit.fc.constantFrom<DType>("float64", "int32"),
      )
      .map(([key, shape, p, dtype]) => ({ inputs: [key], attrs: { p, shape, dtype } })),
});

/**
 * 1 with probability p, else 0, of the given shape, drawn from `key` (a dropout mask keeps each
 * unit with p = 1 − rate); a batch of keys [...batch, 2] gives [...batch, ...shape]. Under vmap,
 * mapped keys draw one mask per slice and an unmapped key the same mask. Not differentiable.
 */
export function randomBernoulli(
  key: Tensor,
  p: number,
  shape: readonly number[],
  options?: RandomBernoulliOptions,
): Tensor {
  assertTensor("randomBernoulli", "key", key);
  return randomBernoulliOp(key, { ...optionsArgument("randomBernoulli", options), p, shape });
}
