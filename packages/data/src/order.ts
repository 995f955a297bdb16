import { argumentError } from "./errors.js";
import { deriveRng } from "./seed.js";

/** Stream numbers under a loader's seed: one for sample orders, one for batch transforms. */
export const ORDER_STREAM = 0;
export const TRANSFORM_STREAM = 1;

/** Options of epochOrder. */
export interface EpochOrderOptions {
  /** Permute the samples (else 0…n−1). */
  readonly shuffle: boolean;
  /** The loader's seed. */
  readonly seed: number;
  /** The epoch, 0, 1, …: each has its own order. */
  readonly epoch: number;
}

/**
 * The sample indices of one epoch: 0…n−1, or with `shuffle` the permutation drawn from
 * deriveRng(seed, ORDER_STREAM, epoch): a new order each epoch, the same in every run.
 */
export function epochOrder(n: number, { shuffle, seed, epoch }: EpochOrderOptions): Int32Array {
  checkEpoch(epoch);
  if (!shuffle) {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }
  const permutation = deriveRng(seed, ORDER_STREAM, epoch).permutation(n).data;
  return permutation instanceof Int32Array ? permutation : Int32Array.from(permutation);
}

export function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= 2 ** 51) {
    throw argumentError(
      "dataLoader",
      `epoch must be a non-negative integer below 2^51, got ${epoch}`,
    );
  }
}
