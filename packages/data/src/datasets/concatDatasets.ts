import { argumentError } from "../errors.js";
import { checkIndex, type Dataset } from "./dataset.js";

/**
 * The datasets one after another: indices 0…len(a)−1 reach `a`, the next len(b) reach `b`, and
 * so on. Finding the part is a binary search over the cumulative lengths.
 */
export function concatDatasets<T>(...datasets: Dataset<T>[]): Dataset<T> {
  if (datasets.length === 0) throw argumentError("concatDatasets", "needs at least one dataset");
  // starts[k] is the global index of datasets[k]'s first sample; the last entry is the total.
  const starts = [0];
  for (const d of datasets) starts.push(starts[starts.length - 1]! + d.length);
  const length = starts[datasets.length]!;
  return {
    length,
    name: `concatDatasets(${datasets.map((d) => d.name).join(", ")})`,
    get(index) {
      checkIndex(this, index);
      let lo = 0;
      let hi = datasets.length - 1;
      // Invariant: starts[lo] ≤ index < starts[hi + 1]; empty parts are skipped by the search.
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= index) lo = mid;
        else hi = mid - 1;
      }
      return datasets[lo]!.get(index - starts[lo]!);
    },
  };
}
