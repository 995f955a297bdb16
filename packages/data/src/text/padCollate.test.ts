import { tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { padCollate } from "./padCollate.js";

describe("padCollate", () => {
  it("pads on the right to the longest sequence, with a mask and the lengths", () => {
    const batch = padCollate([
      [5, 6, 7],
      Int32Array.from([8]),
      [],
      tensor([9, 0], { dtype: "int32" }),
    ]);
    for (const t of [batch.ids, batch.mask, batch.lengths]) expect(t.dtype).toBe("int32");
    expect(batch.ids.toArray()).toEqual([
      [5, 6, 7],
      [8, 0, 0],
      [0, 0, 0],
      [9, 0, 0],
    ]);
    // The real 0 at [3][1] is marked; the padding 0s are not.
    expect(batch.mask.toArray()).toEqual([
      [1, 1, 1],
      [1, 0, 0],
      [0, 0, 0],
      [1, 1, 0],
    ]);
    expect(batch.lengths.toArray()).toEqual([3, 1, 0, 2]);
  });

  it("pads with padValue and cuts at maxLength", () => {
    const batch = padCollate([[1, 2, 3, 4], [5]], { padValue: -1, maxLength: 2 });
    expect(batch.ids.toArray()).toEqual([
      [1, 2],
      [5, -1],
    ]);
    expect(batch.mask.toArray()).toEqual([
      [1, 1],
      [1, 0],
    ]);
    expect(batch.lengths.toArray()).toEqual([2, 1]);
    // maxLength above the longest leaves T at the longest.
    expect(padCollate([[1], [2, 3]], { maxLength: 8 }).ids.shape).toEqual([2, 2]);
  });

  it("names a bad batch, option or element", () => {
    expect(() => padCollate([])).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: "padCollate: cannot collate an empty batch",
      }),
    );
    expect(() => padCollate([[1]], { maxLength: 0 })).toThrow(
      "padCollate: maxLength must be a positive integer, got 0",
    );
    expect(() => padCollate([[1]], { padValue: 0.5 })).toThrow(
      "padCollate: padValue must be an int32 integer, got 0.5",
    );
    expect(() => padCollate([[1], [2, 2.5]])).toThrow(
      "padCollate: sequences[1][1] = 2.5 is not an int32 integer",
    );
    expect(() => padCollate([[1], tensor([[1]], { dtype: "int32" })])).toThrow(
      "padCollate: sequences[1] must be 1-D, got a tensor of shape [1,1]",
    );
  });
});
