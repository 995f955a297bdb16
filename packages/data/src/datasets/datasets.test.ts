import { describe, expect, it } from "vitest";
import { arange, prng, reshape, tensor, TapegradError } from "@tapegrad/autodiff";
import { concatDatasets } from "./concatDatasets.js";
import { mapDataset } from "./mapDataset.js";
import { randomSplit } from "./randomSplit.js";
import { subset } from "./subset.js";
import { tensorDataset } from "./tensorDataset.js";
import type { Dataset } from "./dataset.js";

/** A dataset whose sample i is the number i. */
function counting(n: number, name = `counting(${n})`): Dataset<number> {
  return { length: n, name, get: (i) => i };
}

function thrown(fn: () => unknown): TapegradError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TapegradError) return error;
    throw error;
  }
  throw new Error("expected a TapegradError");
}

describe("tensorDataset", () => {
  const x = reshape(arange(24), [4, 2, 3]);
  const y = tensor([7, 8, 9, 10], { dtype: "int32" });
  const ds = tensorDataset(x, y);

  it("indexes the first axis of every tensor", () => {
    expect(ds.length).toBe(4);
    const [xi, yi] = ds.get(2);
    expect(xi!.shape).toEqual([2, 3]);
    expect(xi!.toArray()).toEqual([
      [12, 13, 14],
      [15, 16, 17],
    ]);
    expect(yi!.shape).toEqual([]);
    expect(yi!.dtype).toBe("int32");
    expect(yi!.item()).toBe(9);
  });

  it("gathers a batch in index order", () => {
    const [xb, yb] = ds.getBatch(Int32Array.from([3, 0, 3]));
    expect(xb!.shape).toEqual([3, 2, 3]);
    expect(Array.from(xb!.data.subarray(0, 6))).toEqual([18, 19, 20, 21, 22, 23]);
    expect(Array.from(yb!.data)).toEqual([10, 7, 10]);
  });

  it("names the dataset and its bounds in index errors", () => {
    const error = thrown(() => ds.get(4));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(
      "tensorDataset(length 4): index 4 is out of range; expected an integer 0 ≤ index < 4",
    );
    expect(thrown(() => ds.get(-1)).message).toMatch(/index -1 is out of range/);
    expect(thrown(() => ds.get(1.5)).message).toMatch(/index 1.5 is out of range/);
  });

  it("rejects tensors whose first axes differ", () => {
    const error = thrown(() => tensorDataset(x, tensor([1, 2, 3])));
    expect(error.code).toBe("SHAPE_MISMATCH");
    expect(error.message).toMatch(/tensor 1 has shape \[3\] but tensor 0 has \[4,2,3\]/);
  });
});

describe("mapDataset, subset, concatDatasets", () => {
  it("maps lazily with the index", () => {
    const ds = mapDataset(counting(3), (v, i) => `${v}:${i}`);
    expect([0, 1, 2].map((i) => ds.get(i))).toEqual(["0:0", "1:1", "2:2"]);
    expect(thrown(() => ds.get(3)).message).toMatch(/^mapDataset\(counting\(3\)\): index 3/);
  });

  it("subsets in the given order and keeps the batch fast path", () => {
    const parent = tensorDataset(tensor([10, 11, 12, 13, 14]));
    const part = subset(parent, [4, 1, 3]);
    expect(part.length).toBe(3);
    expect(part.get(0)[0]!.item()).toBe(14);
    expect(Array.from(part.getBatch!(Int32Array.from([2, 0]))[0]!.data)).toEqual([13, 14]);
    expect(thrown(() => part.get(3)).message).toMatch(
      /^subset\(length 3 of tensorDataset\(length 5\)\): index 3 is out of range/,
    );
    expect(thrown(() => subset(parent, [5])).message).toMatch(/tensorDataset\(length 5\): index 5/);
  });

  it("concatenates, skipping empty parts", () => {
    const ds = concatDatasets(
      counting(0, "a"),
      mapDataset(counting(3), (v) => v + 100),
      counting(0, "b"),
      mapDataset(counting(2), (v) => v + 200),
    );
    expect(ds.length).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => ds.get(i))).toEqual([100, 101, 102, 200, 201]);
    expect(thrown(() => ds.get(5)).message).toMatch(/expected an integer 0 ≤ index < 5/);
  });
});

describe("randomSplit", () => {
  it("splits counts into disjoint subsets covering every sample, reproducibly", () => {
    const ds = counting(10);
    const parts = randomSplit(ds, [7, 3], prng(1));
    expect(parts.map((p) => p.length)).toEqual([7, 3]);
    const seen = parts.flatMap((p) => Array.from({ length: p.length }, (_, i) => p.get(i)));
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = randomSplit(ds, [7, 3], prng(1));
    expect(again[1]!.get(0)).toBe(parts[1]!.get(0));
  });

  it("gives fractions' remainders to the first parts", () => {
    expect(randomSplit(counting(10), [0.34, 0.33, 0.33], prng(0)).map((p) => p.length)).toEqual([
      4, 3, 3,
    ]);
    expect(randomSplit(counting(5), [0.5, 0.5], prng(0)).map((p) => p.length)).toEqual([3, 2]);
  });

  it("rejects sizes that are neither", () => {
    expect(thrown(() => randomSplit(counting(10), [6, 3], prng(0))).message).toMatch(
      /counts summing to counting\(10\)'s length 10, or fractions summing to 1 \(they sum to 9\)/,
    );
  });
});
