import { describe, expect, it } from "vitest";
import { grad, mul, pad, sum, tensor, type Tensor } from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";

const x = tensor([
  [1, 2],
  [3, 4],
]);

describe("pad", () => {
  it("adds zeros before and after each axis", () => {
    const y = pad(x, [
      [1, 0],
      [0, 2],
    ]);
    expect(y.shape).toEqual([3, 4]);
    expect(y.toArray()).toEqual([
      [0, 0, 0, 0],
      [1, 2, 0, 0],
      [3, 4, 0, 0],
    ]);
  });

  it("fills with `value` and treats missing trailing pairs as [0, 0]", () => {
    expect(pad(x, [[1, 1]], -1).toArray()).toEqual([
      [-1, -1],
      [1, 2],
      [3, 4],
      [-1, -1],
    ]);
    expect(pad(x, []).toArray()).toEqual(x.toArray());
  });

  it("pads -Infinity (as max pooling wants) and a rank-3 tensor in the middle", () => {
    const y = pad(
      tensor([1, 2], { shape: [1, 1, 2] }),
      [
        [0, 0],
        [1, 1],
        [0, 0],
      ],
      -Infinity,
    );
    expect(y.shape).toEqual([1, 3, 2]);
    expect(Array.from(y.data)).toEqual([-Infinity, -Infinity, 1, 2, -Infinity, -Infinity]);
  });

  it("keeps int32 and rejects a fractional fill for it", () => {
    const ints = tensor([7], { dtype: "int32" });
    const y = pad(ints, [[2, 1]], 5);
    expect(y.dtype).toBe("int32");
    expect(Array.from(y.data)).toEqual([5, 5, 7, 5]);
    expect(() => pad(ints, [[1, 0]], 0.5)).toThrow(
      "pad: value 0.5 cannot be stored in x of dtype int32",
    );
  });

  it("pads empty axes", () => {
    const y = pad(tensor([], { shape: [0, 2] }), [[1, 0]], 3);
    expect(y.toArray()).toEqual([[3, 3]]);
  });

  it("rejects too many pairs and negative or malformed paddings", () => {
    expect(() =>
      pad(x, [
        [0, 0],
        [0, 0],
        [1, 1],
      ]),
    ).toThrow(
      "pad: got 3 [before, after] pairs for x of rank 2 (shape [2,2]); give at most one per axis",
    );
    expect(() => pad(x, [[0, -1]])).toThrow(
      "pad: paddings[0] must be a pair of non-negative integers [before, after], got [0,-1]",
    );
    expect(() =>
      pad(x, [
        [0, 0],
        [1.5, 0],
      ]),
    ).toThrow("pad: paddings[1] must be a pair of non-negative integers");
    // A caller without types could pass a bare [1, 1] meaning one pair.
    // @ts-expect-error paddings takes pairs
    expect(() => pad(x, [1, 1])).toThrow("pad: paddings[0] must be a pair");
  });

  it("has a gradient of dy's interior (and none to the padding value)", () => {
    const w = tensor(
      Array.from({ length: 12 }, (_, i) => i),
      { dtype: "float64", shape: [3, 4] },
    );
    const g = grad((v: Tensor) =>
      sum(
        mul(
          pad(
            v,
            [
              [1, 0],
              [1, 1],
            ],
            9,
          ),
          w,
        ),
      ),
    )(tensor([1, 2, 3, 4], { dtype: "float64", shape: [2, 2] }));
    expect(g.toArray()).toEqual([
      [5, 6],
      [9, 10],
    ]);
    checkGrads((v: Tensor) => pad(v, [[2, 1]], 3), [tensor([[1, 2, 3]], { dtype: "float64" })]);
  });
});
