import { describe, expect, it } from "vitest";
import {
  TapegradError,
  adaptiveAvgPool2d,
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool2d,
  tensor,
} from "../index.js";
import { caught } from "../../test/helpers.js";

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
