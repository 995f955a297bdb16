import { describe, expect, it } from "vitest";
import { grad, maxPool2d, sum, tensor, vjp, type MaxPool2dAttrs, type Tensor } from "../index.js";
import { plane, seed4, seed6 } from "../../test/helpers.js";

/** The gradient of sum(maxPool2d(x)): how many windows route their gradient to each cell. */
const routed = (x: Tensor, attrs: MaxPool2dAttrs) =>
  grad((t: Tensor) => sum(maxPool2d(t, attrs)))(x).toArray();

describe("maxPool2d: the worked examples of docs/cnn-backward.md", () => {
  it("4×4, 2×2 windows, stride 2 → [[2,5],[4,2]]", () => {
    expect(maxPool2d(seed4, { kernelSize: 2 }).toArray()).toEqual([
      [
        [
          [2, 5],
          [4, 2],
        ],
      ],
    ]);
  });

  it("backward of [[1,2],[3,4]] puts 1, 2, 3, 4 at the argmax positions, 0 elsewhere", () => {
    const [y, pullback] = vjp((x: Tensor) => maxPool2d(x, { kernelSize: 2, stride: 2 }), seed4);
    const [dx] = pullback(
      tensor(
        [
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
        ],
        { dtype: "float64" },
      ),
    );
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // Maxima: 2 at (0,1), 5 at (1,3), 4 at (3,1), 2 at (3,3).
    expect(dx.toArray()).toEqual([
      [
        [
          [0, 1, 0, 0],
          [0, 0, 0, 2],
          [0, 0, 0, 0],
          [0, 3, 0, 4],
        ],
      ],
    ]);
  });

  it("6×6 → [[7,9,9],[5,9,7],[9,7,7]]; the tied 5s route to the first in row-major order", () => {
    expect(maxPool2d(seed6, { kernelSize: 2 }).toArray()).toEqual([
      [
        [
          [7, 9, 9],
          [5, 9, 7],
          [9, 7, 7],
        ],
      ],
    ]);
    // Window (1,0) is [[5,0],[5,2]]: both 5s are maxima; (2,0) comes first, (3,0) gets nothing.
    expect(routed(seed6, { kernelSize: 2 })).toEqual([
      [
        [
          [0, 0, 0, 0, 0, 1],
          [0, 1, 1, 0, 0, 0],
          [1, 0, 1, 0, 0, 0],
          [0, 0, 0, 0, 1, 0],
          [1, 0, 0, 0, 0, 0],
          [0, 0, 0, 1, 0, 1],
        ],
      ],
    ]);
  });
});

describe("maxPool2d: hand-computed layouts", () => {
  it("overlapping windows add up where one cell is the maximum of several", () => {
    const x = plane([
      [1, 2, 1],
      [2, 9, 2],
      [1, 2, 1],
    ]);
    const attrs = { kernelSize: 2, stride: 1 };
    expect(maxPool2d(x, attrs).toArray()).toEqual([
      [
        [
          [9, 9],
          [9, 9],
        ],
      ],
    ]);
    expect(routed(x, attrs)).toEqual([
      [
        [
          [0, 0, 0],
          [0, 4, 0],
          [0, 0, 0],
        ],
      ],
    ]);
  });

  it("all-tied windows send their gradient to each window's first cell", () => {
    const ones = plane([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(routed(ones, { kernelSize: 2, stride: 1 })).toEqual([
      [
        [
          [1, 1, 0],
          [1, 1, 0],
          [0, 0, 0],
        ],
      ],
    ]);
  });

  it("ceilMode keeps the last partial windows (5×5, 2×2, stride 2 → 3×3)", () => {
    const x = tensor(
      Array.from({ length: 25 }, (_, i) => i),
      { shape: [1, 1, 5, 5], dtype: "float64" },
    );
    expect(maxPool2d(x, { kernelSize: 2 }).toArray()).toEqual([
      [
        [
          [6, 8],
          [16, 18],
        ],
      ],
    ]);
    expect(maxPool2d(x, { kernelSize: 2, ceilMode: true }).toArray()).toEqual([
      [
        [
          [6, 8, 9],
          [16, 18, 19],
          [21, 23, 24],
        ],
      ],
    ]);
  });

  it("padding never wins, even over negative inputs", () => {
    const x = plane([
      [-1, -2, -3],
      [-4, -5, -6],
      [-7, -8, -9],
    ]);
    const attrs = { kernelSize: 2, padding: 1 };
    // Windows cover rows {−1,0}, {1,2} and the same columns.
    expect(maxPool2d(x, attrs).toArray()).toEqual([
      [
        [
          [-1, -2],
          [-4, -5],
        ],
      ],
    ]);
    expect(routed(x, attrs)).toEqual([
      [
        [
          [1, 1, 0],
          [1, 1, 0],
          [0, 0, 0],
        ],
      ],
    ]);
  });

  it("dilation 2 takes every other cell", () => {
    const x = plane([
      [0, 9, 1, 2],
      [3, 4, 8, 5],
      [6, 7, 2, 1],
      [5, 0, 3, 4],
    ]);
    const attrs = { kernelSize: 2, stride: 1, dilation: 2 };
    // Window (i,j) holds rows i, i+2 and columns j, j+2.
    expect(maxPool2d(x, attrs).toArray()).toEqual([
      [
        [
          [6, 9],
          [8, 5],
        ],
      ],
    ]);
    expect(routed(x, attrs)).toEqual([
      [
        [
          [0, 1, 0, 0],
          [0, 0, 1, 1],
          [1, 0, 0, 0],
          [0, 0, 0, 0],
        ],
      ],
    ]);
  });

  it("rectangular kernels and strides given as pairs", () => {
    const x = plane([
      [1, 5, 2, 0, 3, 1],
      [4, 2, 6, 1, 0, 2],
    ]);
    expect(maxPool2d(x, { kernelSize: [2, 3], stride: [1, 3] }).toArray()).toEqual([[[[6, 3]]]]);
  });

  it("takes a 3-D [C, H, W] input and keeps batch and channels apart", () => {
    const x = tensor(
      Array.from({ length: 2 * 2 * 4 }, (_, i) => (i * 7) % 11),
      { shape: [2, 2, 4], dtype: "float64" },
    );
    const y3 = maxPool2d(x, { kernelSize: 2 });
    const y4 = maxPool2d(tensor(x.data, { shape: [1, 2, 2, 4] }), { kernelSize: 2 });
    expect(y3.shape).toEqual([2, 1, 2]);
    expect(Array.from(y3.data)).toEqual(Array.from(y4.data));
    // Planes: [0,7,3,10 / 6,2,9,5] and [1,8,4,0 / 7,3,10,6].
    expect(y3.toArray()).toEqual([[[7, 10]], [[8, 10]]]);
  });

  it("int32 input stays int32 (not differentiable)", () => {
    const x = tensor(
      [
        [
          [
            [3, -1],
            [7, 2],
          ],
        ],
      ],
      { dtype: "int32" },
    );
    const y = maxPool2d(x, { kernelSize: 2 });
    expect(y.dtype).toBe("int32");
    expect(y.toArray()).toEqual([[[[7]]]]);
  });

  it("NaN wins and takes the gradient; an all −∞ window gives −∞ and routes to its first cell", () => {
    const x = plane([
      [1, NaN, -Infinity, -Infinity],
      [NaN, 2, -Infinity, -Infinity],
    ]);
    // The 2×2 fast path.
    expect(Array.from(maxPool2d(x, { kernelSize: 2 }).data)).toEqual([NaN, -Infinity]);
    expect(routed(x, { kernelSize: 2 })).toEqual([
      [
        [
          [0, 1, 1, 0],
          [0, 0, 0, 0],
        ],
      ],
    ]);
    // The general path: columns {−1,0}, {1,2}, {3,4}; the first NaN in row-major order wins.
    const padded = { kernelSize: 2, padding: [0, 1] as [number, number] };
    expect(Array.from(maxPool2d(x, padded).data)).toEqual([NaN, NaN, -Infinity]);
    expect(routed(x, padded)).toEqual([
      [
        [
          [0, 1, 0, 1],
          [1, 0, 0, 0],
        ],
      ],
    ]);
  });

  it("float32 stays float32", () => {
    const x = tensor([
      [
        [
          [0.5, 0.25],
          [0.125, 1.5],
        ],
      ],
    ]);
    const y = maxPool2d(x, { kernelSize: 2 });
    expect(y.dtype).toBe("float32");
    expect(y.toArray()).toEqual([[[[1.5]]]]);
  });
});
