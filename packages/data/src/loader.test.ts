import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arange, tensor, type Rng, type Tensor } from "@tapegrad/autodiff";
import { mapDataset } from "./datasets/mapDataset.js";
import { tensorDataset } from "./datasets/tensorDataset.js";
import { dataLoader } from "./loader.js";

/** n samples [x: float32 [2] = (i, −i), y: int32 label i]. */
function indexed(n: number) {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) x.set([i, -i], 2 * i);
  return tensorDataset(tensor(x, { shape: [n, 2] }), arange(0, n, 1, "int32"));
}

/** The labels of every batch of an epoch: which samples it visited, in order. */
function labels(batches: Iterable<Tensor[]>): number[][] {
  return Array.from(batches, (batch) => Array.from(batch[1]!.data));
}

describe("dataLoader", () => {
  it("visits every sample exactly once per epoch in batches of batchSize", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 17 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat({ max: 1000 }),
        fc.nat({ max: 5 }),
        (n, batchSize, dropLast, shuffle, seed, epoch) => {
          const loader = dataLoader(indexed(n), { batchSize, dropLast, shuffle, seed });
          const batches = labels(loader.epoch(epoch));
          const full = Math.floor(n / batchSize);
          const expected = dropLast || n % batchSize === 0 ? full : full + 1;
          expect(batches.length).toBe(expected);
          expect(loader.length).toBe(expected);
          batches.forEach((b, k) => {
            expect(b.length).toBe(k < full ? batchSize : n % batchSize);
          });
          const seen = batches.flat();
          // Without dropLast every sample comes once; with it, the first full·batchSize of the order.
          expect(new Set(seen).size).toBe(seen.length);
          expect(seen.length).toBe(dropLast ? full * batchSize : n);
          if (!dropLast)
            expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
          if (!shuffle) expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i));
        },
      ),
    );
  });

  it("gives identical batches for the same seed and epoch, new orders for new epochs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 80 }), fc.nat({ max: 1 << 30 }), (n, seed) => {
        const run = (epoch: number) =>
          labels(dataLoader(indexed(n), { batchSize: 5, shuffle: true, seed }).epoch(epoch));
        expect(run(3)).toEqual(run(3));
        // Two of n! orders coinciding has probability 1/n! ≤ 1/8!, so a fixed check is fine.
        expect(run(3).flat()).not.toEqual(run(4).flat());
      }),
    );
    const a = labels(dataLoader(indexed(50), { batchSize: 7, shuffle: true, seed: 1 }).epoch(0));
    const b = labels(dataLoader(indexed(50), { batchSize: 7, shuffle: true, seed: 2 }).epoch(0));
    expect(a.flat()).not.toEqual(b.flat());
  });

  it("runs epoch 0, 1, 2 … on successive passes over the loader, from setEpoch", () => {
    const loader = dataLoader(indexed(20), { batchSize: 6, shuffle: true, seed: 9 });
    const first = labels(loader);
    const second = labels(loader);
    expect(first).toEqual(labels(loader.epoch(0)));
    expect(second).toEqual(labels(loader.epoch(1)));
    loader.setEpoch(7);
    expect(labels(loader)).toEqual(labels(loader.epoch(7)));
    expect(() => loader.setEpoch(-1)).toThrow(
      /epoch must be a non-negative integer below 2\^51, got -1/,
    );
  });

  it("collates per-sample datasets the same as the tensor fast path", () => {
    const fast = indexed(13);
    const slow = mapDataset(fast, (sample) => sample);
    const options = { batchSize: 4, shuffle: true, seed: 5 };
    const a = Array.from(dataLoader(fast, options).epoch(2));
    const b = Array.from(dataLoader(slow, options).epoch(2));
    expect(a.length).toBe(b.length);
    a.forEach((batch, k) => {
      batch.forEach((t, j) => {
        expect(t.shape).toEqual(b[k]![j]!.shape);
        expect(t.dtype).toEqual(b[k]![j]!.dtype);
        expect(Array.from(t.data)).toEqual(Array.from(b[k]![j]!.data));
      });
    });
  });

  it("gives the transform a generator fixed by (seed, epoch, batch)", () => {
    const draws: number[][] = [];
    const record = (batch: Tensor[], rng: Rng) => {
      draws.push([rng.nextDouble()]);
      return batch;
    };
    const loader = dataLoader(indexed(10), { batchSize: 4, seed: 3, transform: record });
    Array.from(loader.epoch(0));
    Array.from(loader.epoch(0));
    Array.from(loader.epoch(1));
    expect(draws.slice(0, 3)).toEqual(draws.slice(3, 6));
    expect(new Set(draws.map(String)).size).toBe(6);
  });

  it("iterates with for await, with and without prefetch, in the same order", async () => {
    for (const prefetch of [false, true]) {
      const loader = dataLoader(indexed(11), { batchSize: 3, shuffle: true, seed: 4, prefetch });
      const seen: number[][] = [];
      for await (const batch of loader.epoch(1)) seen.push(Array.from(batch[1]!.data));
      expect(seen).toEqual(labels(loader.epoch(1)));
    }
  });

  it("rejects a batch size that is not a positive integer", () => {
    expect(() => dataLoader(indexed(3), { batchSize: 0 })).toThrow(
      /dataLoader: batchSize must be a positive integer, got 0/,
    );
  });
});

describe("dataLoader prefetch", () => {
  const failing = (bad: number) => (batch: Tensor[], rng: Rng) => {
    rng.nextDouble();
    if (batch[1]!.data[0] === bad) throw new Error(`batch starting at ${bad} failed`);
    return batch;
  };

  it("passes a failed batch's error to the loop that awaits it", async () => {
    const loader = dataLoader(indexed(9), { batchSize: 3, prefetch: true, transform: failing(3) });
    const seen: number[] = [];
    await expect(async () => {
      for await (const batch of loader.epoch(0)) seen.push(batch[1]!.data[0]!);
    }).rejects.toThrow("batch starting at 3 failed");
    expect(seen).toEqual([0]);
  });

  it("drops a prefetched failure quietly when the loop stops first", async () => {
    const loader = dataLoader(indexed(9), { batchSize: 3, prefetch: true, transform: failing(3) });
    for await (const batch of loader.epoch(0)) {
      expect(batch[1]!.data[0]).toBe(0);
      break;
    }
    // Give the queued preparation time to run and fail; vitest reports unhandled rejections.
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});
