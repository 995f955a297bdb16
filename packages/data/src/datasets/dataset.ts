import { TapegradError } from "@tapegrad/autodiff";
import type { Collated } from "../collate.js";

/**
 * A finite, indexable collection of samples: `get(i)` for 0 ≤ i < length. Datasets are read-only
 * values; wrappers (subset, mapDataset, …) index into the dataset they wrap without copying.
 */
export interface Dataset<T> {
  /** Number of samples; valid indices are 0…length − 1. */
  readonly length: number;
  /** Names the dataset in error messages, e.g. `tensorDataset(length 60000)`. */
  readonly name: string;
  /** Sample `index`; throws INVALID_ARGUMENT naming the dataset when it is out of range. */
  get(index: number): T;
  /**
   * Optional fast path for loaders: the batch of `indices` already collated, equal to
   * `collate(indices.map(get))` but built by copying rows, without per-sample tensors.
   */
  getBatch?(indices: Int32Array): Collated<T>;
}

/** Throws INVALID_ARGUMENT naming the dataset and its bounds unless `index` is an integer in range. */
export function checkIndex(
  dataset: { readonly name: string; readonly length: number },
  index: number,
): void {
  if (Number.isInteger(index) && index >= 0 && index < dataset.length) return;
  const bounds =
    dataset.length === 0
      ? "the dataset is empty"
      : `expected an integer 0 ≤ index < ${dataset.length}`;
  throw new TapegradError(
    "INVALID_ARGUMENT",
    `${dataset.name}: index ${String(index)} is out of range; ${bounds}`,
  );
}
