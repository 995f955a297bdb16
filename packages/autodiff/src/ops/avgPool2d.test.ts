import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
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
import { caught, plane, seed4, seed6 } from "../../test/helpers.js";

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

describe("avgPool2d: the seed notes' numbers", () => {
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

describe("avgPool2d family: errors", () => {
  const x = tensor([
    [
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
  ]);

  it.each([
    [
      () =>
        avgPool2d(
          tensor(
            [
              [
                [
                  [1, 2],
                  [3, 4],
                ],
              ],
            ],
            { dtype: "int32" },
          ),
          { kernelSize: 2 },
        ),
      "DTYPE_MISMATCH",
      "avgPool2d: x must be float32 or float64, got int32",
    ],
    [
      () => avgPool2d(tensor([1, 2, 3]), { kernelSize: 1 }),
      "SHAPE_MISMATCH",
      "avgPool2d: x must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape [3]",
    ],
    [
      () => avgPool2d(x, { kernelSize: [2, -1] }),
      "INVALID_ARGUMENT",
      "avgPool2d: kernelSize must be an integer ≥ 1 or a pair of them, got [2,-1]",
    ],
    [
      () => avgPool2d(x, { kernelSize: 2, stride: 0 }),
      "INVALID_ARGUMENT",
      "avgPool2d: stride must be an integer ≥ 1 or a pair of them, got 0",
    ],
    [
      () => avgPool2d(x, { kernelSize: 1, padding: 1 }),
      "INVALID_ARGUMENT",
      "avgPool2d: padding 1 is more than half of kernelSize 1 along the height (at most 0)",
    ],
    [
      () => avgPool2d(x, { kernelSize: [1, 4] }),
      "SHAPE_MISMATCH",
      "avgPool2d: the width window (kernel 4, dilation 1: span 4) is larger than the padded " +
        "input width 3 (3 + padding 0+0)",
    ],
    [
      () => avgPool2d(x, { kernelSize: 2, countIncludePad: "yes" as unknown as boolean }),
      "INVALID_ARGUMENT",
      "avgPool2d: countIncludePad must be a boolean, got yes",
    ],
    [
      () => avgPool2dBackward(tensor([[[[1, 2]]]]), [1, 1, 4, 4], { kernelSize: 2 }),
      "SHAPE_MISMATCH",
      "avgPool2dBackward: dy has shape [1,1,1,2], expected [1,1,2,2]: the avgPool2d output " +
        "for inputShape [1,1,4,4]",
    ],
    [
      () => avgPool2dBackward(tensor([[[[1]]]]), [1, 1, 1.5, 2], { kernelSize: 1 }),
      "INVALID_ARGUMENT",
      "avgPool2dBackward: shape must hold non-negative integers, got [1,1,1.5,2]",
    ],
    [
      () => globalAvgPool2d(tensor([[1, 2]])),
      "SHAPE_MISMATCH",
      "globalAvgPool2d: x must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape [1,2]",
    ],
    [
      () => globalAvgPool2d(tensor([[[1, 2]]], { dtype: "int32" })),
      "DTYPE_MISMATCH",
      "globalAvgPool2d: x must be float32 or float64, got int32",
    ],
    [
      () => adaptiveAvgPool2d(x, 0),
      "INVALID_ARGUMENT",
      "adaptiveAvgPool2d: outputSize must be an integer ≥ 1 or a pair of them, got 0",
    ],
    [
      () => adaptiveAvgPool2d(tensor([], { shape: [1, 1, 0, 3] }), 2),
      "SHAPE_MISMATCH",
      "adaptiveAvgPool2d: x has an empty plane: shape [1,1,0,3] (H and W must be ≥ 1)",
    ],
  ])("%#", (fn, code, message) => {
    const e = caught(fn);
    expect(e).toBeInstanceOf(TapegradError);
    expect(e.code).toBe(code);
    expect(e.message).toBe(message);
  });
});

// An independent reference: PyTorch's CPU loop, written out (sizes from its formula).

interface Config {
  readonly lead: number[];
  readonly size: [number, number];
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
}

function referenceOut(c: Config, a: 0 | 1): number {
  const numerator = c.size[a] + 2 * c.padding[a] - c.kernel[a];
  if (numerator < 0) return 0;
  const round = c.ceilMode ? Math.ceil : Math.floor;
  let out = round(numerator / c.stride[a]) + 1;
  if (c.ceilMode && (out - 1) * c.stride[a] >= c.size[a] + c.padding[a]) out--;
  return out;
}

/** avg_pool2d's forward and backward over every window, or null where no window fits. */
function referenceAvgPool(x: ArrayLike<number>, dy: (i: number) => number, c: Config) {
  const [h, w] = c.size;
  const [oh, ow] = [referenceOut(c, 0), referenceOut(c, 1)];
  if (oh < 1 || ow < 1) return null;
  const planes = c.lead.reduce((a, b) => a * b, 1);
  const y: number[] = [];
  const dx = new Array<number>(planes * h * w).fill(0);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let h0 = i * c.stride[0] - c.padding[0];
        let w0 = j * c.stride[1] - c.padding[1];
        let h1 = Math.min(h0 + c.kernel[0], h + c.padding[0]);
        let w1 = Math.min(w0 + c.kernel[1], w + c.padding[1]);
        const poolSize = (h1 - h0) * (w1 - w0);
        [h0, w0, h1, w1] = [Math.max(h0, 0), Math.max(w0, 0), Math.min(h1, h), Math.min(w1, w)];
        const divisor = c.countIncludePad ? poolSize : (h1 - h0) * (w1 - w0);
        let total = 0;
        for (let r = h0; r < h1; r++) {
          for (let s = w0; s < w1; s++) total += x[p * h * w + r * w + s]!;
        }
        const o = y.length;
        y.push(total / divisor);
        for (let r = h0; r < h1; r++) {
          for (let s = w0; s < w1; s++) dx[p * h * w + r * w + s] += dy(o) / divisor;
        }
      }
    }
  }
  return { y, dx, shape: [...c.lead, oh, ow] };
}

const pair = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

describe("avgPool2d against a naive reference (property)", () => {
  it("random configurations: values, shapes, gradients, avgPool2dBackward, errors", () => {
    const configs: fc.Arbitrary<Config> = fc
      .record({
        lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
        size: pair(1, 9),
        kernel: pair(1, 4),
        stride: pair(1, 3),
        padHalf: pair(0, 2),
        ceilMode: fc.boolean(),
        countIncludePad: fc.boolean(),
      })
      .map(({ padHalf, ...c }) => ({
        ...c,
        padding: [
          Math.min(padHalf[0], Math.floor(c.kernel[0] / 2)),
          Math.min(padHalf[1], Math.floor(c.kernel[1] / 2)),
        ] as [number, number],
      }));
    fc.assert(
      fc.property(configs, (c) => {
        const shape = [...c.lead, ...c.size];
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, (_, i) => ((i * 29) % 17) - 8);
        const x = tensor(values, { shape, dtype: "float64" });
        const attrs: AvgPool2dAttrs = {
          kernelSize: c.kernel,
          stride: c.stride,
          padding: c.padding,
          ceilMode: c.ceilMode,
          countIncludePad: c.countIncludePad,
        };
        const dyAt = (i: number) => ((i * 7) % 5) - 2;
        const expected = referenceAvgPool(values, dyAt, c);
        if (expected === null) {
          expect(() => avgPool2d(x, attrs)).toThrow(TapegradError);
          return;
        }
        const [y, pullback] = vjp((t: Tensor) => avgPool2d(t, attrs), x);
        expect(y.shape).toEqual(expected.shape);
        Array.from(y.data).forEach((v, i) => expect(v).toBeCloseTo(expected.y[i]!, 12));
        const dy = tensor(
          expected.y.map((_, i) => dyAt(i)),
          { shape: y.shape, dtype: "float64" },
        );
        const [dx] = pullback(dy);
        Array.from(dx.data).forEach((v, i) => expect(v).toBeCloseTo(expected.dx[i]!, 12));
        const direct = avgPool2dBackward(dy, shape, attrs);
        expect(Array.from(direct.data)).toEqual(Array.from(dx.data));
      }),
      { numRuns: 300 },
    );
  });
});
