import { checkIndex, type Dataset } from "./dataset.js";

/**
 * The dataset whose sample i is `fn(dataset.get(i), i)`, computed lazily on every access
 * (nothing is cached). For seeded per-sample randomness derive an Rng from the index.
 */
export function mapDataset<T, U>(
  dataset: Dataset<T>,
  fn: (sample: T, index: number) => U,
): Dataset<U> {
  return {
    length: dataset.length,
    name: `mapDataset(${dataset.name})`,
    get(index) {
      checkIndex(this, index);
      return fn(dataset.get(index), index);
    },
  };
}
