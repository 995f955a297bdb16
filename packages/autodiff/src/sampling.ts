import type * as FastCheck from "fast-check";
import type { Arbitrary } from "fast-check";
import type { DType } from "./dtype.js";
import { tensor, type Tensor } from "./tensor.js";

/**
 * Bounds of generated shapes: rank minRank…maxRank (default 0…3), each size minDim…maxDim (1…4).
 */
export interface ShapeOptions {
  /** Fewest axes (default 0: scalars allowed). */
  readonly minRank?: number;
  /** Most axes (default 3). */
  readonly maxRank?: number;
  /** Smallest size of an axis (default 1). */
  readonly minDim?: number;
  /** Largest size of an axis (default 4). */
  readonly maxDim?: number;
}

/** What values generated tensors hold: their range, points to avoid, distinctness and dtype. */
export interface ValueOptions {
  /** Inclusive range of the values (default −2…2). */
  readonly min?: number;
  /** Upper end of the range (default 2). */
  readonly max?: number;
  /** Points where the function has a kink or pole; values stay `margin` away from each. */
  readonly awayFrom?: readonly number[];
  /**
   * Distance kept from each `awayFrom` point and, with `distinct`, between values (default 0.05).
   */
  readonly margin?: number;
  /** All values differ by at least `margin` (default 0.05): no ties for max/argmax-like ops. */
  readonly distinct?: boolean;
  /** Element type (default float64, as gradient checks need). */
  readonly dtype?: DType;
}

/**
 * Builders of fast-check arbitraries for shapes and tensors. The core never imports fast-check:
 * ops receive this kit (made around the caller's fast-check) in their `samples` function.
 */
export interface SampleKit {
  /** The caller's fast-check module, for arbitraries of attrs (`kit.fc.integer(…)`). */
  readonly fc: typeof FastCheck;
  /** A shape within the bounds of `options`. */
  shape(options?: ShapeOptions): Arbitrary<number[]>;
  /** A tensor of the given shape (float64 unless `dtype` says otherwise). */
  tensor(shape: readonly number[], options?: ValueOptions): Arbitrary<Tensor>;
  /** A shape, then a tensor of that shape. */
  anyTensor(shapeOptions?: ShapeOptions, valueOptions?: ValueOptions): Arbitrary<Tensor>;
  /** Two shapes that broadcast together, each possibly with fewer axes or size-1 axes. */
  broadcastPair(options?: ShapeOptions): Arbitrary<[number[], number[]]>;
}

export function makeSampleKit(fc: typeof FastCheck): SampleKit {
  const shape = (options: ShapeOptions = {}) => {
    const { minRank = 0, maxRank = 3, minDim = 1, maxDim = 4 } = options;
    return fc.array(fc.integer({ min: minDim, max: maxDim }), {
      minLength: minRank,
      maxLength: maxRank,
    });
  };

  const values = (size: number, options: ValueOptions): Arbitrary<number[]> => {
    const { min = -2, max = 2, awayFrom = [], margin = 0.05, distinct = false } = options;
    if (distinct) {
      // Distinct grid points in [min, max], shuffled, each at least `margin` from the others.
      const slots = Math.max(size, Math.floor((max - min) / margin));
      return fc
        .uniqueArray(fc.integer({ min: 0, max: slots }), { minLength: size, maxLength: size })
        .map((ks) => ks.map((k) => min + (k * (max - min)) / slots))
        .map((vs) => vs.map((v) => pushAway(v, awayFrom, margin)));
    }
    const element = fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    return fc
      .array(element, { minLength: size, maxLength: size })
      .map((vs) => vs.map((v) => pushAway(v, awayFrom, margin)));
  };

  const tensorOf = (shape: readonly number[], options: ValueOptions = {}) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const dtype = options.dtype ?? "float64";
    return values(size, options).map((vs) =>
      tensor(dtype === "int32" ? vs.map(Math.round) : vs, { dtype, shape }),
    );
  };

  const broadcastPair = (options: ShapeOptions = {}) =>
    shape({ minRank: 1, ...options }).chain((full) =>
      fc
        .tuple(
          fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
          fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
          fc.nat({ max: full.length }),
          fc.nat({ max: full.length }),
        )
        .map(([onesA, onesB, dropA, dropB]): [number[], number[]] => {
          const a = full.map((d, i) => (onesA[i] ? 1 : d)).slice(dropA);
          // Keep b full where a has a 1, so the pair always broadcasts to `full`'s sizes.
          const b = full.map((d, i) => (onesB[i] && !onesA[i] ? 1 : d)).slice(dropB);
          return [a, b];
        }),
    );

  return {
    fc,
    shape,
    tensor: tensorOf,
    anyTensor: (shapeOptions, valueOptions) =>
      shape(shapeOptions).chain((s) => tensorOf(s, valueOptions)),
    broadcastPair,
  };
}

function pushAway(v: number, points: readonly number[], margin: number): number {
  for (const p of points) {
    if (Math.abs(v - p) < margin) return v >= p ? p + margin : p - margin;
  }
  return v;
}
