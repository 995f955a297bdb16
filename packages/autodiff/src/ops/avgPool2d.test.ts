import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool2d,
  grad,
  mul,
  square,
  sum,
  tensor,
  vjp,
  type AvgPool2dAttrs,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { plane, seed4, seed6 } from "../../test/helpers.js";

const arange = (shape: number[]) =>
  tensor(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
    { shape, dtype: "float64" },
  );
const ones = (shape: number[]) =>
  tensor(
    arange(shape).data.map(() => 1),
    { shape },
  );

function expectClose(actual: Tensor, expected: number[][]) {
  const flat = expected.flat();
  expect(actual.size).toBe(flat.length);
  Array.from(actual.data).forEach((v, i) => expect(v).toBeCloseTo(flat[i]!, 12));
}

describe("avgPool2d: the worked examples of docs/cnn-backward.md", () => {
  it("4×4, 2×2 windows, stride 2 → [[1,3],[2,1]]", () => {
    expect(avgPool2d(seed4, { kernelSize: 2 }).toArray()).toEqual([
      [
        [
          [1, 3],
          [2, 1],
        ],
      ],
    ]);
  });

  it("6×6 → [[4.25,6,6.25],[3,6,2.25],[3.25,3.75,3]]", () => {
    expect(avgPool2d(seed6, { kernelSize: 2, stride: 2 }).toArray()).toEqual([
      [
        [
          [4.25, 6.0, 6.25],
          [3.0, 6.0, 2.25],
          [3.25, 3.75, 3.0],
        ],
      ],
    ]);
  });

  it("backward of [[1,2],[3,4]] spreads δ/4 over each window", () => {
    const [, pullback] = vjp((x: Tensor) => avgPool2d(x, { kernelSize: 2 }), seed4);
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
    const expected = [
      [0.25, 0.25, 0.5, 0.5],
      [0.25, 0.25, 0.5, 0.5],
      [0.75, 0.75, 1, 1],
      [0.75, 0.75, 1, 1],
    ];
    expect(dx.toArray()).toEqual([[expected]]);
    // avgPool2dBackward is that vjp, callable directly.
    const direct = avgPool2dBackward(
      tensor([
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ]),
      [1, 1, 4, 4],
      { kernelSize: 2 },
    );
    expect(direct.toArray()).toEqual([[expected]]);
  });
});

describe("avgPool2d: divisors, padding and ceilMode (PyTorch's semantics)", () => {
  const x3 = plane([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);

  it("padding 1: padded cells count in the divisor unless countIncludePad is false", () => {
    // Windows cover rows {−1,0}, {1,2} and the same columns; the sums are 1, 5, 11, 28.
    expect(avgPool2d(x3, { kernelSize: 2, padding: 1 }).toArray()).toEqual([
      [
        [
          [0.25, 1.25],
          [2.75, 7],
        ],
      ],
    ]);
    expect(avgPool2d(x3, { kernelSize: 2, padding: 1, countIncludePad: false }).toArray()).toEqual([
      [
        [
          [1, 2.5],
          [5.5, 7],
        ],
      ],
    ]);
  });

  it("ceilMode: cells beyond the padding never count, whatever countIncludePad says", () => {
    // 5×5 arange, 2×2 stride 2: the last row and column of windows hold 2 or 1 input cells.
    const expected = [
      [3, 5, 6.5],
      [13, 15, 16.5],
      [20.5, 22.5, 24],
    ];
    for (const countIncludePad of [true, false]) {
      const attrs = { kernelSize: 2, ceilMode: true, countIncludePad };
      expect(avgPool2d(arange([1, 1, 5, 5]), attrs).toArray()).toEqual([[expected]]);
    }
  });

  it("ceilMode with padding: a last window overhanging the padding divides by its part inside", () => {
    // 4 rows, kernel 3, stride 2, padding 1: windows {−1,0,1}, {1,2,3}, {3,4,5}. The last has
    // 1 input row, 1 padding row (4) and 1 row beyond the padding (5), so its divisor is 2.
    const attrs = { kernelSize: 3, stride: 2, padding: 1, ceilMode: true };
    const r = [2 / 3, 1, 1 / 2];
    expectClose(
      avgPool2d(ones([1, 1, 4, 4]), attrs),
      r.map((a) => r.map((b) => a * b)),
    );
    expectClose(avgPool2d(ones([1, 1, 4, 4]), { ...attrs, countIncludePad: false }), [
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
  });

  it("overlapping windows (3×3, stride 1, padding 1): the gradient sums each window's share", () => {
    const attrs = { kernelSize: 3, stride: 1, padding: 1 };
    const dx = grad((t: Tensor) => sum(avgPool2d(t, attrs)))(ones([1, 1, 3, 3]));
    // Each cell lies in as many windows as it has neighbours (itself included), each giving 1/9.
    expectClose(dx, [
      [4 / 9, 6 / 9, 4 / 9],
      [6 / 9, 1, 6 / 9],
      [4 / 9, 6 / 9, 4 / 9],
    ]);
    const dxExcl = grad((t: Tensor) => sum(avgPool2d(t, { ...attrs, countIncludePad: false })))(
      ones([1, 1, 3, 3]),
    );
    // Corner windows have 4 cells, edge windows 6, the centre 9; a cell gets 1/divisor from
    // each window it lies in: a corner cell from 1 corner, 2 edge and the centre window.
    const corner = 1 / 4 + 2 / 6 + 1 / 9;
    const edge = 2 / 4 + 3 / 6 + 1 / 9;
    const centre = 4 / 4 + 4 / 6 + 1 / 9;
    expectClose(dxExcl, [
      [corner, edge, corner],
      [edge, centre, edge],
      [corner, edge, corner],
    ]);
  });

  it("3-D [C, H, W] input, rectangular windows, float32 kept", () => {
    const x = arange([2, 2, 4]);
    const y = avgPool2d(x, { kernelSize: [2, 4] });
    expect(y.shape).toEqual([2, 1, 1]);
    expect(y.toArray()).toEqual([[[3.5]], [[11.5]]]);
    const y32 = avgPool2d(
      tensor([
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ]),
      { kernelSize: 2 },
    );
    expect(y32.dtype).toBe("float32");
    expect(y32.toArray()).toEqual([[[[2.5]]]]);
  });
});

describe("avgPool2d: second order and the adjoint pair", () => {
  it("avgPool2dBackward is the transpose: ⟨avgPool2d(x), dy⟩ = ⟨x, avgPool2dBackward(dy)⟩", () => {
    const x = tensor(
      Array.from({ length: 2 * 3 * 7 * 6 }, (_, i) => Math.sin(i)),
      { shape: [2, 3, 7, 6], dtype: "float64" },
    );
    for (const attrs of [
      { kernelSize: 3, stride: 2, padding: 1, ceilMode: true },
      { kernelSize: [2, 3], stride: [3, 1], padding: [1, 0], countIncludePad: false },
    ] as AvgPool2dAttrs[]) {
      const y = avgPool2d(x, attrs);
      const dy = tensor(
        Array.from({ length: y.size }, (_, i) => Math.cos(2 * i)),
        { shape: y.shape, dtype: "float64" },
      );
      const left = sum(mul(y, dy)).item();
      const right = sum(mul(x, avgPool2dBackward(dy, x.shape, attrs))).item();
      expect(left).toBeCloseTo(right, 10);
    }
  });

  it("gradients of gradients: avgPool2dBackward's vjp is avgPool2d", () => {
    const x = tensor(
      Array.from({ length: 2 * 5 * 5 }, (_, i) => Math.sin(3.7 * i + 1)),
      { shape: [2, 1, 5, 5], dtype: "float64" },
    );
    const attrs = { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false };
    const dfdx = grad((t: Tensor) => sum(mul(square(avgPool2d(t, attrs)), avgPool2d(t, attrs))));
    checkGrads((t: Tensor) => mul(dfdx(t), t), [x]);
  });
});

describe("globalAvgPool2d and adaptiveAvgPool2d", () => {
  it("globalAvgPool2d: the mean of each plane, [N, C, 1, 1]; gradient 1/(H·W)", () => {
    const x = arange([2, 3, 2, 2]);
    const y = globalAvgPool2d(x);
    expect(y.shape).toEqual([2, 3, 1, 1]);
    expect(Array.from(y.data)).toEqual([1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
    const dx = grad((t: Tensor) => sum(globalAvgPool2d(t)))(x);
    expect(Array.from(dx.data)).toEqual(new Array(24).fill(0.25));
    expect(globalAvgPool2d(arange([3, 2, 2])).shape).toEqual([3, 1, 1]);
  });

  it("adaptiveAvgPool2d: PyTorch's windows floor(i·H/out) … ceil((i+1)·H/out), overlapping", () => {
    // Width 5 → 3: columns [0,2), [1,4), [3,5).
    expect(adaptiveAvgPool2d(plane([[0, 1, 2, 3, 4]]), [1, 3]).toArray()).toEqual([
      [[[0.5, 2, 3.5]]],
    ]);
    // Height 2 → 3 (upsampling): rows [0,1), [0,2), [1,2).
    expect(adaptiveAvgPool2d(plane([[2], [4]]), [3, 1]).toArray()).toEqual([[[[2], [3], [4]]]]);
    // Equal sizes are the identity.
    const x = arange([1, 2, 3, 3]);
    expect(adaptiveAvgPool2d(x, 3)).toBe(x);
  });

  it("adaptiveAvgPool2d: halving is 2×2 average pooling; uneven sizes pass checkGrads", () => {
    const x = tensor(
      Array.from({ length: 2 * 3 * 6 * 8 }, (_, i) => Math.sin(i)),
      { shape: [2, 3, 6, 8], dtype: "float64" },
    );
    const a = adaptiveAvgPool2d(x, [3, 4]);
    const b = avgPool2d(x, { kernelSize: 2 });
    const want = b.data;
    Array.from(a.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
    checkGrads((t: Tensor) => adaptiveAvgPool2d(t, [4, 3]), [x]);
  });

  it("adaptiveAvgPool2d matches a naive reference on random sizes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        (h, w, oh, ow) => {
          const x = tensor(
            Array.from({ length: 2 * h * w }, (_, i) => ((i * 13) % 7) - 3),
            { shape: [2, h, w], dtype: "float64" },
          );
          const y = adaptiveAvgPool2d(x, [oh, ow]);
          expect(y.shape).toEqual([2, oh, ow]);
          const [xs, ys] = [x.data, y.data];
          for (let p = 0; p < 2; p++) {
            for (let i = 0; i < oh; i++) {
              for (let j = 0; j < ow; j++) {
                const [r0, r1] = [Math.floor((i * h) / oh), Math.ceil(((i + 1) * h) / oh)];
                const [c0, c1] = [Math.floor((j * w) / ow), Math.ceil(((j + 1) * w) / ow)];
                let total = 0;
                for (let r = r0; r < r1; r++) {
                  for (let c = c0; c < c1; c++) total += xs[p * h * w + r * w + c]!;
                }
                const mean = total / ((r1 - r0) * (c1 - c0));
                expect(ys[(p * oh + i) * ow + j]).toBeCloseTo(mean, 12);
              }
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
