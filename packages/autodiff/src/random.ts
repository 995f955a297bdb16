import { allocate, type DType } from "./dtype.js";
import { TapegradError, argumentError } from "./errors.js";
import { openCapture } from "./jit/capture.js";
import { assertValidShape, shapeSize } from "./shape.js";
import { Tensor } from "./tensor.js";

/** The complete state of a generator: restoring it continues the same sequence. */
export interface RngState {
  /** The stream's 64-bit key as two unsigned 32-bit words, derived from the seed. */
  readonly key: readonly [number, number];
  /** How many 32-bit words the stream has handed out so far. */
  readonly counter: number;
}

/**
 * A seeded, splittable, counter-based random generator. Word i of a stream is a hash of
 * (key, i), so results depend only on the seed and the order of draws: identical on every
 * platform (integer arithmetic only; normals use Math.log/cos, which V8 computes identically
 * everywhere). Each draw advances the counter; `split` derives an independent generator.
 */
export class Rng {
  private readonly key: readonly [number, number];
  private counter: number;
  /** The jit trace open when this generator was made (0: none); see nextWord. */
  private readonly capture = openCapture;

  private constructor(key: readonly [number, number], counter: number) {
    this.key = key;
    this.counter = counter;
  }

  /** @internal Use `prng(seed)`. */
  static create(key: readonly [number, number], counter = 0): Rng {
    return new Rng(key, counter);
  }

  /** Restores a generator saved with `getState()`. */
  static fromState(state: RngState): Rng {
    const [k0, k1] = state.key;
    if (
      !Number.isInteger(k0) ||
      !Number.isInteger(k1) ||
      !Number.isSafeInteger(state.counter) ||
      state.counter < 0
    ) {
      throw argumentError(
        "Rng.fromState",
        `expected integer key words and a non-negative counter, got ${JSON.stringify(state)}`,
      );
    }
    return new Rng([k0 >>> 0, k1 >>> 0], state.counter);
  }

  /**
   * The key and counter, plain numbers: save them (JSON, a checkpoint) and restore with fromState.
   */
  getState(): RngState {
    return { key: [this.key[0], this.key[1]], counter: this.counter };
  }

  /** A new generator whose stream is independent of this one's; advances this one. */
  split(): Rng {
    const a = this.nextWord();
    const b = this.nextWord();
    return new Rng([hash(a, b, 0x243f6a88, this.key[0]), hash(b, a, 0x85a308d3, this.key[1])], 0);
  }

  /** The next 32 random bits as an unsigned integer. */
  nextWord(): number {
    // A generator that outlives a jit trace would give the traced call's draws to every
    // replay; one made inside the trace (an op's kernel, on its key) draws the same either way.
    if (openCapture !== this.capture) {
      throw new TapegradError(
        "INVALID_STATE",
        "Rng: drawing random numbers in JavaScript inside a jitted function would bake this " +
          "call's draws into its program, the same on every later call; pass a key " +
          "(randomKey, splitKey) as an argument and draw with randomUniform, randomNormal or " +
          "randomBernoulli instead",
      );
    }
    const i = this.counter++;
    return hash(this.key[0], this.key[1], i >>> 0, Math.floor(i / 4294967296));
  }

  /** A uniform float64 in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextWord() >>> 5;
    const lo = this.nextWord() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform values in [low, high). */
  uniform(
    shape: readonly number[],
    options: { low?: number; high?: number; dtype?: DType } = {},
  ): Tensor {
    const { low = 0, high = 1, dtype = "float32" } = options;
    if (!(high > low))
      throw argumentError("uniform", `expected low < high, got low=${low} high=${high}`);
    return this.fill("uniform", shape, dtype, () => {
      // Rounding to float32 can land on `high` itself; redraw then, keeping [low, high).
      for (;;) {
        const v = low + (high - low) * this.nextDouble();
        if ((dtype === "float32" ? Math.fround(v) : v) < high) return v;
      }
    });
  }

  /** Normal values with the given mean and standard deviation (Box–Muller). */
  normal(
    shape: readonly number[],
    options: { mean?: number; std?: number; dtype?: DType } = {},
  ): Tensor {
    const { mean = 0, std = 1, dtype = "float32" } = options;
    if (!(std >= 0)) throw argumentError("normal", `std must be non-negative, got ${std}`);
    return this.fill("normal", shape, dtype, () => {
      const u1 = 1 - this.nextDouble(); // in (0, 1]: log never sees 0
      const u2 = this.nextDouble();
      return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    });
  }

  /** Integers uniform in [low, high) as int32. */
  randint(low: number, high: number, shape: readonly number[]): Tensor {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
      throw argumentError("randint", `expected integers low < high, got low=${low} high=${high}`);
    }
    if (low < -2147483648 || high > 2147483648) {
      throw argumentError(
        "randint",
        `low and high must lie in the int32 range [-2^31, 2^31], got low=${low} high=${high}`,
      );
    }
    return this.fill(
      "randint",
      shape,
      "int32",
      () => low + Math.floor(this.nextDouble() * (high - low)),
    );
  }

  /** A uniformly random permutation of 0…n−1 as an int32 tensor (Fisher–Yates). */
  permutation(n: number): Tensor {
    if (!Number.isInteger(n) || n < 0)
      throw argumentError("permutation", `n must be a non-negative integer, got ${n}`);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.nextDouble() * (i + 1));
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return new Tensor(out, [n]);
  }

  private fill(op: string, shape: readonly number[], dtype: DType, draw: () => number): Tensor {
    assertValidShape(op, shape);
    const buffer = allocate(dtype, shapeSize(shape));
    for (let i = 0; i < buffer.length; i++) buffer[i] = draw();
    return new Tensor(buffer, [...shape]);
  }
}

/** A generator seeded with a non-negative integer (up to 2^53). */
export function prng(seed: number): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw argumentError("prng", `seed must be a non-negative safe integer, got ${seed}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return Rng.create([hash(lo, hi, 0x9e3779b9, 0x7f4a7c15), hash(hi, lo, 0xbb67ae85, 0x3c6ef372)]);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * @internal A 128-bit → 32-bit mix (murmur3 finalisers chained over the four words): word i of the
 * stream of key (k0, k1) is hash(k0, k1, low and high 32 bits of i). Shared with randomKeys.ts.
 */
export function hash(k0: number, k1: number, lo: number, hi: number): number {
  let h = fmix32((lo ^ k0) + 0x9e3779b9);
  h = fmix32((h ^ hi) + k1);
  h = fmix32((h ^ k0) + Math.imul(lo, 0xcc9e2d51));
  return fmix32(h ^ k1 ^ hi);
}
