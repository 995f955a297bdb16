import { describe, expect, it } from "vitest";
import { TapegradError, maxPool2d, tensor } from "../index.js";
import { caught } from "../../test/helpers.js";

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
