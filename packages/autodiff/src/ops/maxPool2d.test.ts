import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  grad,
  maxPool2d,
  maxPool2dBackward,
  mul,
  scatterAdd,
  square,
  sum,
  tensor,
  vjp,
  type MaxPool2dAttrs,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { caught, plane, seed4, seed6 } from "../../test/helpers.js";

/** The gradient of sum(maxPool2d(x)): how many windows route their gradient to each cell. */
const routed = (x: Tensor, attrs: MaxPool2dAttrs) =>
  grad((t: Tensor) => sum(maxPool2d(t, attrs)))(x).toArray();

describe("maxPool2d: the seed notes' numbers", () => {
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

describe("maxPool2d: second order", () => {
  it("the gradient of sum(maxPool2d(x)²) is differentiable again (maxPool2dBackward's vjp)", () => {
    const x = tensor(
      Array.from({ length: 2 * 5 * 5 }, (_, i) => Math.sin(3.7 * i + 1)),
      { shape: [2, 1, 5, 5], dtype: "float64" },
    );
    for (const attrs of [
      { kernelSize: 2 },
      { kernelSize: 3, stride: 2, padding: 1, ceilMode: true },
      { kernelSize: 2, dilation: 2, stride: 1 },
    ]) {
      const dfdx = grad((t: Tensor) => sum(square(maxPool2d(t, attrs))));
      checkGrads((t: Tensor) => mul(dfdx(t), t), [x]);
    }
  });
});

describe("maxPool2dBackward", () => {
  const argmax = tensor(
    [
      [0, 5, 5],
      [7, 7, 2],
    ],
    { dtype: "int32" },
  );
  const dy = tensor(
    [
      [1, 2, 4],
      [8, 16, 32],
    ],
    { dtype: "float64" },
  );

  it("adds each dy at its argmax index, summing repeats, as scatterAdd does", () => {
    const dx = maxPool2dBackward(dy, argmax, { inputShape: [2, 4] });
    expect(dx.shape).toEqual([2, 4]);
    expect(dx.dtype).toBe("float64");
    expect(dx.toArray()).toEqual([
      [1, 0, 32, 0],
      [0, 6, 0, 24],
    ]);
    const flat = scatterAdd(dy, argmax, [8]);
    expect(Array.from(dx.data)).toEqual(Array.from(flat.data));
  });

  it("its gradient with respect to dy gathers the cotangent at argmax", () => {
    const g = tensor(
      Array.from({ length: 8 }, (_, i) => i + 1),
      { shape: [2, 4] },
    );
    const [, pullback] = vjp(
      (d: Tensor) => maxPool2dBackward(d, argmax, { inputShape: [2, 4] }),
      dy,
    );
    expect(pullback(g)[0]!.toArray()).toEqual([
      [1, 6, 6],
      [8, 8, 3],
    ]);
  });

  /** maxPool2dBackward of dy into [2, 4] with the given indices. */
  const scatterWith = (indices: number[][]) => () =>
    maxPool2dBackward(dy, tensor(indices, { dtype: "int32" }), { inputShape: [2, 4] });

  it.each([
    [
      scatterWith([
        [0, 5, 5],
        [7, 8, 2],
      ]),
      "INVALID_ARGUMENT",
      "maxPool2dBackward: argmax[1,1] = 8 is out of range for inputShape [2,4]; expected 0 ≤ index < 8",
    ],
    [
      scatterWith([
        [0, -1, 5],
        [7, 7, 2],
      ]),
      "INVALID_ARGUMENT",
      "maxPool2dBackward: argmax[0,1] = -1 is out of range for inputShape [2,4]; expected 0 ≤ index < 8",
    ],
    [
      () =>
        maxPool2dBackward(dy, tensor([0, 5, 5, 7, 7, 2], { dtype: "int32" }), {
          inputShape: [2, 4],
        }),
      "SHAPE_MISMATCH",
      "maxPool2dBackward: dy has shape [2,3] but argmax has shape [6]; they must match (one index per output of maxPool2d)",
    ],
    [
      () =>
        maxPool2dBackward(
          dy,
          tensor([
            [0, 5, 5],
            [7, 7, 2],
          ]),
          { inputShape: [2, 4] },
        ),
      "DTYPE_MISMATCH",
      "maxPool2dBackward: argmax must be int32, got float32",
    ],
    [
      () => maxPool2dBackward(argmax, argmax, { inputShape: [2, 4] }),
      "DTYPE_MISMATCH",
      "maxPool2dBackward: dy must be float32 or float64, got int32",
    ],
    [
      () => maxPool2dBackward(dy, argmax, { inputShape: [2, -4] }),
      "INVALID_ARGUMENT",
      "maxPool2dBackward: shape must hold non-negative integers, got [2,-4]",
    ],
  ])("error %#", (call, code, message) => {
    const e = caught(call);
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
  });
});

describe("maxPool2d: errors", () => {
  const x = tensor([
    [
      [
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10],
      ],
    ],
  ]);

  it.each([
    [
      () => maxPool2d(tensor([[1, 2]]), { kernelSize: 1 }),
      "SHAPE_MISMATCH",
      "maxPool2d: x must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape [1,2]",
    ],
    [
      () => maxPool2d(x, { kernelSize: 0 }),
      "INVALID_ARGUMENT",
      "maxPool2d: kernelSize must be an integer ≥ 1 or a pair of them, got 0",
    ],
    [
      () => maxPool2d(x, { kernelSize: 1.5 }),
      "INVALID_ARGUMENT",
      "maxPool2d: kernelSize must be an integer ≥ 1 or a pair of them, got 1.5",
    ],
    [
      () => maxPool2d(x, { kernelSize: 2, stride: [1, 0] }),
      "INVALID_ARGUMENT",
      "maxPool2d: stride must be an integer ≥ 1 or a pair of them, got [1,0]",
    ],
    [
      () => maxPool2d(x, { kernelSize: 2, padding: -1 }),
      "INVALID_ARGUMENT",
      "maxPool2d: padding must be an integer ≥ 0 or a pair of them, got -1",
    ],
    [
      () => maxPool2d(x, { kernelSize: [3, 3], padding: [2, 0] }),
      "INVALID_ARGUMENT",
      "maxPool2d: padding 2 is more than half of kernelSize 3 along the height (at most 1)",
    ],
    [
      () => maxPool2d(x, { kernelSize: [1, 2], padding: [0, 2] }),
      "INVALID_ARGUMENT",
      "maxPool2d: padding 2 is more than half of kernelSize 2 along the width (at most 1)",
    ],
    [
      () => maxPool2d(x, { kernelSize: 3 }),
      "SHAPE_MISMATCH",
      "maxPool2d: the height window (kernel 3, dilation 1: span 3) is larger than the padded " +
        "input height 2 (2 + padding 0+0)",
    ],
    [
      () => maxPool2d(x, { kernelSize: [1, 3], dilation: 3 }),
      "SHAPE_MISMATCH",
      "maxPool2d: the width window (kernel 3, dilation 3: span 7) is larger than the padded " +
        "input width 5 (5 + padding 0+0)",
    ],
    [
      () => maxPool2d(x, { kernelSize: 2, dilation: [3, 1], padding: [1, 0] }),
      "SHAPE_MISMATCH",
      "maxPool2d: the window of output row 0 (input rows -1…2 with dilation 3) covers only " +
        "padding, no cell of the input height 2",
    ],
    [
      () => maxPool2d(x, { kernelSize: 2, dilation: 0 }),
      "INVALID_ARGUMENT",
      "maxPool2d: dilation must be an integer ≥ 1 or a pair of them, got 0",
    ],
    [
      () => maxPool2d(x, { kernelSize: 2, ceilMode: 1 as unknown as boolean }),
      "INVALID_ARGUMENT",
      "maxPool2d: ceilMode must be a boolean, got 1",
    ],
  ])("%#", (fn, code, message) => {
    const e = caught(fn);
    expect(e).toBeInstanceOf(TapegradError);
    expect(e.code).toBe(code);
    expect(e.message).toBe(message);
  });
});

// An independent reference: every window enumerated tap by tap, sizes from PyTorch's formula.

interface Config {
  readonly lead: number[];
  readonly size: [number, number];
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;
}

function referenceOut(c: Config, a: 0 | 1): number {
  const numerator = c.size[a] + 2 * c.padding[a] - c.dilation[a] * (c.kernel[a] - 1) - 1;
  if (numerator < 0) return 0;
  const round = c.ceilMode ? Math.ceil : Math.floor;
  let out = round(numerator / c.stride[a]) + 1;
  // PyTorch: the last window must start inside the input or its leading padding.
  if (c.ceilMode && (out - 1) * c.stride[a] >= c.size[a] + c.padding[a]) out--;
  return out;
}

/** y, the flat argmax per output, or null where PyTorch's geometry has no valid window. */
function referenceMaxPool(x: ArrayLike<number>, c: Config) {
  const [h, w] = c.size;
  const [oh, ow] = [referenceOut(c, 0), referenceOut(c, 1)];
  if (oh < 1 || ow < 1) return null;
  const planes = c.lead.reduce((a, b) => a * b, 1);
  const y: number[] = [];
  const argmax: number[] = [];
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let at = -1;
        let first = -1;
        for (let r = 0; r < c.kernel[0]; r++) {
          for (let s = 0; s < c.kernel[1]; s++) {
            const row = i * c.stride[0] - c.padding[0] + r * c.dilation[0];
            const col = j * c.stride[1] - c.padding[1] + s * c.dilation[1];
            if (row < 0 || row >= h || col < 0 || col >= w) continue;
            const k = p * h * w + row * w + col;
            if (first < 0) first = k;
            const v = x[k]!;
            if (Number.isNaN(best)) continue;
            if (Number.isNaN(v) || v > best) {
              best = v;
              at = k;
            }
          }
        }
        if (first < 0) return null;
        y.push(at < 0 ? x[first]! : best);
        argmax.push(at < 0 ? first : at);
      }
    }
  }
  return { y, argmax, shape: [...c.lead, oh, ow] };
}

const pair = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

const configs: fc.Arbitrary<Config> = fc
  .record({
    lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    size: pair(1, 9),
    kernel: pair(1, 4),
    stride: pair(1, 3),
    padHalf: pair(0, 2),
    dilation: pair(1, 3),
    ceilMode: fc.boolean(),
  })
  .map(({ padHalf, ...c }) => ({
    ...c,
    padding: [
      Math.min(padHalf[0], Math.floor(c.kernel[0] / 2)),
      Math.min(padHalf[1], Math.floor(c.kernel[1] / 2)),
    ] as [number, number],
  }));

/** Values with many ties, and sometimes ±∞ or NaN. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(-Infinity, Infinity, NaN) },
);

function checkAgainstReference(c: Config, values: number[]) {
  const shape = [...c.lead, ...c.size];
  const x = tensor(values, { shape, dtype: "float64" });
  const attrs: MaxPool2dAttrs = {
    kernelSize: c.kernel,
    stride: c.stride,
    padding: c.padding,
    dilation: c.dilation,
    ceilMode: c.ceilMode,
  };
  const expected = referenceMaxPool(values, c);
  if (expected === null) {
    expect(() => maxPool2d(x, attrs)).toThrow(TapegradError);
    return;
  }
  const [y, pullback] = vjp((t: Tensor) => maxPool2d(t, attrs), x);
  expect(y.shape).toEqual(expected.shape);
  expect(Array.from(y.data)).toEqual(expected.y);
  const dy = expected.y.map((_, i) => ((i * 37) % 11) - 5);
  const [dx] = pullback(tensor(dy, { shape: expected.shape, dtype: "float64" }));
  const dxExpected = new Array<number>(x.size).fill(0);
  expected.argmax.forEach((k, i) => (dxExpected[k] = dxExpected[k]! + dy[i]!));
  expect(Array.from(dx.data)).toEqual(dxExpected);
}

describe("maxPool2d against a naive reference (property)", () => {
  it("random configurations: values, shapes, gradient routing, and errors where no window fits", () => {
    fc.assert(
      fc.property(
        configs.chain((c) => {
          const size = c.lead.reduce((a, b) => a * b, 1) * c.size[0] * c.size[1];
          return fc.tuple(fc.constant(c), fc.array(value, { minLength: size, maxLength: size }));
        }),
        ([c, values]) => checkAgainstReference(c, values),
      ),
      { numRuns: 300 },
    );
  });

  it("the 2×2 stride-2 fast path (ties, ±∞, NaN; odd sizes and ceilMode)", () => {
    fc.assert(
      fc.property(
        fc
          .record({
            lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
            size: pair(2, 8),
            ceilMode: fc.boolean(),
          })
          .chain((c) => {
            const size = c.lead.reduce((a, b) => a * b, 1) * c.size[0] * c.size[1];
            const config: Config = {
              ...c,
              kernel: [2, 2],
              stride: [2, 2],
              padding: [0, 0],
              dilation: [1, 1],
            };
            return fc.tuple(
              fc.constant(config),
              fc.array(value, { minLength: size, maxLength: size }),
            );
          }),
        ([c, values]) => checkAgainstReference(c, values),
      ),
      { numRuns: 300 },
    );
  });
});
