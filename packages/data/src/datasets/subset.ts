import { checkIndex, type Dataset } from "./dataset.js";

/**
 * The samples of `dataset` at `indices`, in that order: sample i is dataset.get(indices[i]).
 * Keeps the parent's batch fast path by translating batch indices.
 */
export function subset<T>(dataset: Dataset<T>, indices: ArrayLike<number>): Dataset<T> {
  const map = Int32Array.from(indices);
  for (let i = 0; i < indices.length; i++) checkIndex(dataset, indices[i]!);
  const result: Dataset<T> = {
    length: map.length,
    name: `subset(length ${map.length} of ${dataset.name})`,
    get(index) {
      checkIndex(this, index);
      return dataset.get(map[index]!);
    },
  };
  const parent = dataset;
  if (parent.getBatch !== undefined) {
    result.getBatch = (batch) => {
      batch.forEach((i) => checkIndex(result, i));
      return parent.getBatch!(batch.map((i) => map[i]!));
    };
  }
  return result;
}
