import { describe, expect, it } from "vitest";
import {
  conv2d,
  convTranspose2d,
  grad,
  mul,
  prng,
  sum,
  vjp,
  zeros,
  type Tensor,
} from "../../index.js";
import { checkGrads } from "../../testing/checkGrads.js";
import { f64 } from "../../../test/helpers.js";

const plane = (y: Tensor) => (y.toArray() as number[][][][])[0]![0];
const x = f64([
  [
    [
      [1, 2],
      [3, 4],
    ],
  ],
]);
const w = f64([
  [
    [
      [0, 1],
      [2, 3],
    ],
  ],
]);

describe("convTranspose2d", () => {
  it("scatters each input times the kernel into its output window (stride 2)", () => {
    expect(plane(convTranspose2d(x, w, { stride: 2 }))).toEqual([
      [0, 1, 0, 2],
      [2, 3, 4, 6],
      [0, 3, 0, 4],
      [6, 9, 8, 12],
    ]);
  });

  it("adds overlapping windows (stride 1) and the bias", () => {
    expect(plane(convTranspose2d(x, w, { bias: f64([1]) }))).toEqual([
      [1, 2, 3],
      [3, 11, 11],
      [7, 18, 13],
    ]);
  });

  it("crops padding from both ends and adds outputPadding after", () => {
    expect(plane(convTranspose2d(x, w, { stride: 2, padding: 1 }))).toEqual([
      [3, 4],
      [3, 0],
    ]);
    expect(plane(convTranspose2d(x, w, { stride: 2, outputPadding: [1, 0] }))).toEqual([
      [0, 1, 0, 2],
      [2, 3, 4, 6],
      [0, 3, 0, 4],
      [6, 9, 8, 12],
      [0, 0, 0, 0],
    ]);
  });

  it("has Hout = (H − 1)·s − 2p + d·(k − 1) + outputPadding + 1", () => {
    const y = convTranspose2d(zeros([2, 4, 5, 6]), zeros([4, 3, 3, 2]), {
      stride: [2, 3],
      padding: [1, 0],
      dilation: [2, 1],
      outputPadding: [1, 2],
      groups: 2,
    });
    expect(y.shape).toEqual([2, 6, 4 * 2 - 2 + 2 * 2 + 1 + 1, 5 * 3 + 1 + 2 + 1]);
    // outputPadding may reach the dilation when it is the larger: here stride 1, dilation 2.
    const dilated = convTranspose2d(zeros([3, 4, 4]), zeros([3, 1, 3, 3]), {
      dilation: 2,
      outputPadding: 1,
    });
    expect(dilated.shape).toEqual([1, 9, 9]);
  });

  it("is the adjoint of conv2d: ⟨convTranspose2d(x, w), z⟩ = ⟨x, conv2d(z, w)⟩", () => {
    const options = {
      stride: [2, 3] as [number, number],
      padding: 1,
      dilation: [1, 2] as [number, number],
      groups: 2,
    };
    const xs = prng(1).normal([2, 4, 3, 3], { dtype: "float64" });
    const ws = prng(2).normal([4, 3, 3, 2], { dtype: "float64" });
    const y = convTranspose2d(xs, ws, { ...options, outputPadding: [1, 2] });
    const z = prng(3).normal([...y.shape], { dtype: "float64" });
    const back = conv2d(z, ws, options);
    expect(back.shape).toEqual(xs.shape);
    expect(sum(mul(y, z)).item()).toBeCloseTo(sum(mul(xs, back)).item(), 10);
  });

  it("is conv2d's input gradient", () => {
    const xs = prng(4).normal([1, 3, 6, 7], { dtype: "float64" });
    const ws = prng(5).normal([2, 3, 3, 3], { dtype: "float64" });
    const dy = prng(6).normal([1, 2, 3, 4], { dtype: "float64" });
    const [, pullback] = vjp((x: Tensor) => conv2d(x, ws, { stride: 2, padding: 1 }), xs);
    const [dx] = pullback(dy);
    // Height 6 = (3 − 1)·2 − 2 + 2 + 1 + outputPadding 1: it restores what conv2d's floor lost.
    const y = convTranspose2d(dy, ws, { stride: 2, padding: 1, outputPadding: [1, 0] });
    expect(y.shape).toEqual(xs.shape);
    const want = dx.data;
    y.data.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
  });

  it("has finite-difference-exact gradients for x, w and bias", () => {
    const xs = prng(7).normal([2, 2, 3, 2], { dtype: "float64" });
    const ws = prng(8).normal([2, 2, 2, 3], { dtype: "float64" });
    const bias = prng(9).normal([4], { dtype: "float64" });
    const f = (x: Tensor, w: Tensor, b: Tensor) =>
      convTranspose2d(x, w, {
        bias: b,
        stride: [1, 2],
        dilation: [2, 1],
        outputPadding: 1,
        groups: 2,
      });
    checkGrads(f, [xs, ws, bias]);
    const db = grad((b: Tensor) => sum(f(xs, ws, b)))(bias);
    const out = f(xs, ws, bias);
    const positions = out.shape[0]! * out.shape[2]! * out.shape[3]!;
    expect(Array.from(db.data)).toEqual([positions, positions, positions, positions]);
  });

  it("rejects bad configurations, naming the numbers", () => {
    expect(() => convTranspose2d(zeros([1, 3, 4, 4]), zeros([4, 2, 3, 3]))).toThrow(
      "convTranspose2d: w expects 4 input channels (w is [4,2,3,3]) but x has 3 channels " +
        "(x is [1,3,4,4])",
    );
    expect(() =>
      convTranspose2d(zeros([1, 4, 4, 4]), zeros([4, 2, 3, 3]), { stride: 2, outputPadding: 2 }),
    ).toThrow(
      "convTranspose2d: outputPadding must be smaller than stride or dilation on each axis, got " +
        "outputPadding [2,2] with stride [2,2] and dilation [1,1]",
    );
    expect(() => convTranspose2d(zeros([1, 4, 2, 2]), zeros([4, 2, 3, 3]), { padding: 3 })).toThrow(
      "convTranspose2d: the output height (H − 1)·stride − 2·padding + dilation·(k − 1) + " +
        "outputPadding + 1 = (2 − 1)·1 − 2·3 + 1·(3 − 1) + 0 + 1 = -2 is not positive",
    );
    expect(() => convTranspose2d(zeros([1, 4, 2, 2]), zeros([4, 2, 3, 3]), { groups: 3 })).toThrow(
      "convTranspose2d: groups 3 must divide the 4 input channels of x (x is [1,4,2,2])",
    );
    expect(() =>
      convTranspose2d(zeros([1, 4, 2, 2]), zeros([4, 2, 3, 3]), { bias: zeros([4]) }),
    ).toThrow("convTranspose2d: bias must have shape [2] (one value per output channel), got [4]");
  });
});
