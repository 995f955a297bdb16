import type { DType } from "./dtype.js";
import type { FastCheckModule, SampleArbitrary } from "./sampleTypes.js";
import type { Tensor } from "./tensor.js";

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
 * ops receive this kit (made around the caller's fast-check by the testing entry) in their
 * `samples` function.
 */
export interface SampleKit {
  /** The caller's fast-check module, for arbitraries of attrs (`kit.fc.integer(…)`). */
  readonly fc: FastCheckModule;
  /** A shape within the bounds of `options`. */
  shape(options?: ShapeOptions): SampleArbitrary<number[]>;
  /** A tensor of the given shape (float64 unless `dtype` says otherwise). */
  tensor(shape: readonly number[], options?: ValueOptions): SampleArbitrary<Tensor>;
  /** A shape, then a tensor of that shape. */
  anyTensor(shapeOptions?: ShapeOptions, valueOptions?: ValueOptions): SampleArbitrary<Tensor>;
  /** Two shapes that broadcast together, each possibly with fewer axes or size-1 axes. */
  broadcastPair(options?: ShapeOptions): SampleArbitrary<[number[], number[]]>;
}
