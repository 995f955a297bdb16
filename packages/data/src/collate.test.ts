import { describe, expect, it } from "vitest";
import { tensor, TapegradError } from "@tapegrad/autodiff";
import { collate } from "./collate.js";

describe("collate", () => {
  it("stacks tensors along a new axis 0 inside tuples and objects", () => {
    const batch = collate([
      { image: tensor([1, 2]), label: tensor(3, { dtype: "int32" }), pair: [tensor(5), 0.5] },
      { image: tensor([4, 5]), label: tensor(6, { dtype: "int32" }), pair: [tensor(6), 1.5] },
    ]);
    expect(batch.image.shape).toEqual([2, 2]);
    expect(batch.image.toArray()).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(batch.label.dtype).toBe("int32");
    expect(batch.label.toArray()).toEqual([3, 6]);
    expect(batch.pair[0]!.toArray()).toEqual([5, 6]);
    expect(batch.pair[1]!.dtype).toBe("float32");
    expect(batch.pair[1]!.toArray()).toEqual([0.5, 1.5]);
  });

  it("names the sample and field whose shape differs", () => {
    expect(() => collate([[tensor([1, 2])], [tensor([1, 2, 3])]])).toThrow(
      new TapegradError(
        "SHAPE_MISMATCH",
        "collate: batch[0] of sample 1 has shape [3], expected [2] like sample 0",
      ),
    );
    expect(() => collate([{ a: 1 }, { b: 2 }])).toThrow(/batch sample 1 has no field "a"/);
    expect(() => collate([])).toThrow(/empty batch/);
  });
});
