import type { Rng } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import type { Dataset } from "./dataset.js";
import { subset } from "./subset.js";

/**
 * Splits `dataset` into disjoint random subsets, shuffled by `rng`. `sizes` are either sample
 * counts summing to dataset.length, or fractions summing to 1: each part gets floor(f·n) and
 * the remainder goes one sample at a time to the first parts (as in PyTorch).
 */
export function randomSplit<T>(
  dataset: Dataset<T>,
  sizes: readonly number[],
  rng: Rng,
): Dataset<T>[] {
  const counts = splitCounts(dataset, sizes);
  const order = rng.permutation(dataset.length).data;
  let start = 0;
  return counts.map((count) => {
    const part = subset(dataset, order.subarray(start, start + count));
    start += count;
    return part;
  });
}

function splitCounts(dataset: Dataset<unknown>, sizes: readonly number[]): number[] {
  const n = dataset.length;
  if (sizes.length === 0) throw argumentError("randomSplit", "sizes must not be empty");
  const total = sizes.reduce((a, b) => a + b, 0);
  if (sizes.every((s) => Number.isInteger(s) && s >= 0) && total === n) return [...sizes];
  const fractions = sizes.every((s) => s >= 0 && s <= 1);
  if (!fractions || Math.abs(total - 1) > 1e-9) {
    throw argumentError(
      "randomSplit",
      `sizes [${sizes.join(", ")}] must be counts summing to ${dataset.name}'s length ${n}, ` +
        `or fractions summing to 1 (they sum to ${total})`,
    );
  }
  const counts = sizes.map((f) => Math.floor(f * n));
  let left = n - counts.reduce((a, b) => a + b, 0);
  for (let k = 0; left > 0; k = (k + 1) % counts.length, left--) counts[k]! += 1;
  return counts;
}
