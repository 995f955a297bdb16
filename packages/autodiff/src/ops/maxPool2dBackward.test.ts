import { describe, expect, it } from "vitest";
import {
  grad,
  maxPool2d,
  maxPool2dBackward,
  mul,
  scatterAdd,
  square,
  sum,
  tensor,
  vjp,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { caught } from "../../test/helpers.js";

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
