import { tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { dataLoader } from "../loader.js";
import { charTokenizer } from "./charTokenizer.js";
import { textWindows } from "./textWindows.js";

const ids = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

describe("textWindows", () => {
  it("pairs each window with the same window shifted by one token", () => {
    // n = 10, length 3, stride 3: ⌊(10 − 3 − 1)/3⌋ + 1 = 3 windows starting at 0, 3, 6.
    const ds = textWindows(ids, { length: 3 });
    expect(ds.length).toBe(3);
    expect(ds.stride).toBe(3);
    expect(ds.windowLength).toBe(3);
    const [input, target] = ds.get(2);
    expect(input.dtype).toBe("int32");
    expect(input.shape).toEqual([3]);
    expect(input.toArray()).toEqual([6, 7, 8]);
    expect(target.toArray()).toEqual([7, 8, 9]);
  });

  it("steps by the stride, so windows may overlap", () => {
    // length 4, stride 2: starts 0, 2, 4 (the window at 6 would need ids[10]).
    const ds = textWindows(Array.from(ids), { length: 4, stride: 2 });
    expect(ds.length).toBe(3);
    expect(ds.get(1)[0].toArray()).toEqual([2, 3, 4, 5]);
    expect(ds.get(2)[1].toArray()).toEqual([5, 6, 7, 8]);
    // Exactly length + 1 tokens make one window.
    expect(textWindows(tensor([4, 5, 6], { dtype: "int32" }), { length: 2 }).length).toBe(1);
  });

  it("batches through dataLoader as [B, length] inputs and targets", () => {
    const tok = charTokenizer("to be or not to be");
    const ds = textWindows(tok.encode("to be or not to be"), { length: 4, stride: 1 });
    const batches = [...dataLoader(ds, { batchSize: 4 })];
    // 18 characters: ⌊(18 − 4 − 1)/1⌋ + 1 = 14 windows, in batches of 4, 4, 4, 2.
    expect(batches.map(([x]) => x.shape)).toEqual([
      [4, 4],
      [4, 4],
      [4, 4],
      [2, 4],
    ]);
    const [x, y] = batches[1]!;
    expect(tok.decode(x.data.subarray(0, 4))).toBe("e or");
    expect(tok.decode(y.data.subarray(0, 4))).toBe(" or ");
    // The fast path equals collating single samples.
    const shuffled = [...dataLoader(ds, { batchSize: 5, shuffle: true, seed: 3 }).epoch(0)];
    const order = dataLoader(ds, { batchSize: 5, shuffle: true, seed: 3 }).epoch(0).order;
    expect(shuffled[0]![1].toArray()).toEqual(
      Array.from(order.subarray(0, 5), (i) => ds.get(i)[1].toArray()),
    );
  });

  it("names bad options, a text too short and bad ids", () => {
    expect(() => textWindows(ids, { length: 0 })).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: "textWindows: length must be a positive integer, got 0",
      }),
    );
    expect(() => textWindows(ids, { length: 2, stride: 1.5 })).toThrow(
      "textWindows: stride must be a positive integer, got 1.5",
    );
    expect(() => textWindows(ids, { length: 10 })).toThrow(
      expect.objectContaining({
        code: "SHAPE_MISMATCH",
        message:
          "textWindows: ids has 10 tokens; windows of length 10 need at least 11 " +
          "(the targets are the inputs shifted by one)",
      }),
    );
    expect(() => textWindows([0, 1, -2], { length: 1 })).toThrow(
      "textWindows: ids[2] = -2 is not a token id; expected an integer ≥ 0",
    );
    expect(() => textWindows(tensor([0, 1, 2]), { length: 1 })).toThrow(
      "textWindows: ids must hold int32 token ids, got float32",
    );
    expect(() => textWindows(ids, { length: 3 }).get(3)).toThrow(
      "textWindows(length 3, stride 3, 3 windows): index 3 is out of range; " +
        "expected an integer 0 ≤ index < 3",
    );
  });
});
