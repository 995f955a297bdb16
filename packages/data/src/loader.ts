import type { Rng } from "@tapegrad/autodiff";
import { collate, type Collated } from "./collate.js";
import type { Dataset } from "./datasets/dataset.js";
import { argumentError } from "./errors.js";
import { checkEpoch, epochOrder, TRANSFORM_STREAM } from "./order.js";
import { deriveRng } from "./seed.js";

/** Options of dataLoader: the batch size, and the order, seed and transform of the batches. */
export interface DataLoaderOptions<B> {
  /** Samples per batch (the last batch may be smaller unless dropLast). */
  readonly batchSize: number;
  /** Draw a new sample order every epoch (default false: 0…n−1). */
  readonly shuffle?: boolean;
  /** Seeds the orders and the transform's randomness (default 0). */
  readonly seed?: number;
  /** Leave out the last batch when it would be smaller than batchSize (default false). */
  readonly dropLast?: boolean;
  /** Applied to every collated batch with its own generator, deriveRng(seed, 1, epoch, batch). */
  readonly transform?: (batch: B, rng: Rng) => B;
  /**
   * Async iteration only: prepare batch i+1 in a macrotask queued when batch i is handed out.
   * It overlaps only with what the loop body awaits (I/O, a device readback); a synchronous
   * training step leaves no gap to fill, so the default is off. Results are identical either way.
   */
  readonly prefetch?: boolean;
}

/** The batches of one epoch, for `for … of` and `for await … of`. */
export interface EpochBatches<B> extends Iterable<B>, AsyncIterable<B> {
  /** Which epoch these batches belong to. */
  readonly epoch: number;
  /** Number of batches in the epoch. */
  readonly length: number;
  /** Sample indices in the order this epoch visits them. */
  readonly order: Int32Array;
}

/**
 * Batches of a dataset, reproducible from (seed, epoch). Iterating the loader itself runs epoch
 * 0, then 1, 2, … on each new pass (`setEpoch` moves that counter); `epoch(e)` gives any epoch.
 */
export interface DataLoader<B> extends Iterable<B>, AsyncIterable<B> {
  /** Samples per batch, as given in the options. */
  readonly batchSize: number;
  /** Batches per epoch: ceil(n / batchSize), or floor with dropLast. */
  readonly length: number;
  /** The batches of epoch `epoch` (0, 1, …): the same in every run with the same seed. */
  epoch(epoch: number): EpochBatches<B>;
  /** The epoch the next pass over the loader itself will run. */
  setEpoch(epoch: number): void;
}

/**
 * Groups samples into batches of `batchSize` in a seeded order: collated by `collate` (tensors
 * stack along a new axis 0), or gathered in one copy per tensor when the dataset has getBatch.
 */
export function dataLoader<T>(
  dataset: Dataset<T>,
  options: DataLoaderOptions<Collated<T>>,
): DataLoader<Collated<T>> {
  const {
    batchSize,
    shuffle = false,
    seed = 0,
    dropLast = false,
    transform,
    prefetch = false,
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw argumentError("dataLoader", `batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw argumentError("dataLoader", `seed must be a non-negative safe integer, got ${seed}`);
  }
  const n = dataset.length;
  const length = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);

  const makeBatch = (order: Int32Array, epoch: number, b: number): Collated<T> => {
    const indices = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
    const batch = dataset.getBatch
      ? dataset.getBatch(indices)
      : collate(Array.from(indices, (i) => dataset.get(i)));
    return transform ? transform(batch, deriveRng(seed, TRANSFORM_STREAM, epoch, b)) : batch;
  };

  const epochBatches = (epoch: number): EpochBatches<Collated<T>> => {
    const order = epochOrder(n, { shuffle, seed, epoch });
    return {
      epoch,
      length,
      order,
      *[Symbol.iterator]() {
        for (let b = 0; b < length; b++) yield makeBatch(order, epoch, b);
      },
      async *[Symbol.asyncIterator]() {
        if (!prefetch) {
          for (let b = 0; b < length; b++) yield makeBatch(order, epoch, b);
          return;
        }
        let next = later(() => makeBatch(order, epoch, 0));
        for (let b = 0; b < length; b++) {
          const batch = await next;
          if (b + 1 < length) next = later(() => makeBatch(order, epoch, b + 1));
          yield batch;
        }
      },
    };
  };

  let nextEpoch = 0;
  const pass = () => epochBatches(nextEpoch++);
  return {
    batchSize,
    length,
    epoch: epochBatches,
    setEpoch(epoch) {
      checkEpoch(epoch);
      nextEpoch = epoch;
    },
    [Symbol.iterator]: () => pass()[Symbol.iterator](),
    [Symbol.asyncIterator]: () => pass()[Symbol.asyncIterator](),
  };
}

/** Runs `fn` in a later macrotask, so whatever the consumer awaits can run first. */
function later<R>(fn: () => R): Promise<R> {
  // setImmediate is Node's; browsers fall back to a zero-delay timer.
  const defer =
    typeof setImmediate === "function" ? setImmediate : (f: () => void) => setTimeout(f, 0);
  const result = new Promise<R>((resolve, reject) => {
    defer(() => {
      try {
        resolve(fn());
      } catch (error) {
        reject(error);
      }
    });
  });
  // A consumer that stops early never awaits the prefetched batch; its error must not surface
  // as an unhandled rejection. Awaiting `result` still throws for a consumer that does go on.
  result.catch(() => undefined);
  return result;
}
