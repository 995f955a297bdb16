import type * as FastCheck from "fast-check";
import type { Arbitrary } from "fast-check";
import type { SampleKit, ShapeOptions, ValueOptions } from "../sampling.js";
import { tensor } from "../tensor.js";
import "./fastCheckTypes.js";

/** The sample kit around the caller's fast-check module. */
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
