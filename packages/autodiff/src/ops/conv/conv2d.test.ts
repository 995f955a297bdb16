import { describe, expect, it } from "vitest";
import {
  concat,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  grad,
  matmul,
  mul,
  prng,
  reshape,
  slice,
  square,
  sum,
  tensor,
  transpose,
  zeros,
  type Tensor,
} from "../../index.js";
import { checkGrads } from "../../testing/checkGrads.js";
import { f64 } from "../../../test/helpers.js";
import { image, plane, x3, w2, w4 } from "../../../test/convImages.js";

describe("conv2d: layouts and options", () => {
  it("takes a 3-D [C, H, W] input as a batch of one and returns 3-D", () => {
    const y = conv2d(
      f64([
        [
          [0, 1, 2],
          [3, 4, 5],
          [6, 7, 8],
        ],
      ]),
      w2,
      { bias: f64([2]) },
    );
    expect(y.toArray()).toEqual([
      [
        [21, 27],
        [39, 45],
      ],
    ]);
  });

  it("pads 'same' with the odd extra after (even kernel) and 'valid' with nothing", () => {
    const ones = image([
      [1, 1],
      [1, 1],
    ]);
    expect(plane(conv2d(x3, ones, { padding: "same" }))).toEqual([
      [8, 12, 7],
      [20, 24, 13],
      [13, 15, 8],
    ]);
    expect(plane(conv2d(x3, w2, { padding: "valid" }))).toEqual(plane(conv2d(x3, w2)));
  });

  it("takes [height, width] pairs for stride, padding and dilation, and non-square kernels", () => {
    const w = image([[1, 2, 3]]);
    const y = conv2d(x3, w, { stride: [2, 1], padding: [0, 1] });
    // Rows 0 and 2 of x, each padded with one zero per side, against [1, 2, 3].
    expect(plane(y)).toEqual([
      [3, 8, 5],
      [33, 44, 23],
    ]);
    // Dilation 2 spreads a 2×2 kernel over the corners of the 3×3 input: 0·1 + 2·2 + 6·3 + 8·4.
    expect(plane(conv2d(x3, w4, { dilation: 2 }))).toEqual([[54]]);
    expect(plane(conv2d(x3, w4, { dilation: [2, 1] }))).toEqual([
      [0 + 2 + 18 + 28, 1 + 4 + 21 + 32],
    ]);
  });

  it("splits channels into groups: each group is its own convolution", () => {
    const x = prng(4).normal([2, 4, 5, 5], { dtype: "float64" });
    const w = prng(5).normal([6, 2, 3, 3], { dtype: "float64" });
    const y = conv2d(x, w, { groups: 2, padding: 1 });
    const half = (t: Tensor, i: number, axis: number) => {
      const begin = t.shape.map(() => 0);
      const end = [...t.shape];
      begin[axis] = (i * t.shape[axis]!) / 2;
      end[axis] = ((i + 1) * t.shape[axis]!) / 2;
      return slice(t, begin, end);
    };
    const parts = [0, 1].map((g) => conv2d(half(x, g, 1), half(w, g, 0), { padding: 1 }));
    const expected = concat(parts, 1);
    expect(Array.from(y.data)).toEqual(Array.from(expected.data, (v) => expect.closeTo(v, 12)));
  });

  it("is depthwise when groups = Cin", () => {
    const x = f64([
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
    ]);
    const w = f64([[[[1]]], [[[10]]]]);
    expect(conv2d(x, w, { groups: 2 }).toArray()).toEqual([
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [50, 60],
          [70, 80],
        ],
      ],
    ]);
  });

  it("is a matrix product over channels for a 1×1 kernel (stride 1, no padding)", () => {
    const x = prng(6).normal([2, 3, 4, 5], { dtype: "float64" });
    const w = prng(7).normal([4, 3, 1, 1], { dtype: "float64" });
    const y = conv2d(x, w);
    const expected = matmul(reshape(w, [4, 3]), reshape(x, [2, 3, 20]));
    expect(Array.from(y.data)).toEqual(Array.from(expected.data, (v) => expect.closeTo(v, 12)));
    // ...and its gradients are the matrix product's.
    const dy = prng(8).normal([2, 4, 4, 5], { dtype: "float64" });
    const [dx, dw] = grad((x: Tensor, w: Tensor) => sum(mul(conv2d(x, w), dy)), {
      argnums: [0, 1],
    })(x, w);
    const g = reshape(dy, [2, 4, 20]);
    const dxExpected = matmul(transpose(reshape(w, [4, 3])), g);
    const dwExpected = sum(matmul(g, reshape(x, [2, 3, 20]), { transB: true }), { axis: 0 });
    expect(Array.from(dx.data)).toEqual(Array.from(dxExpected.data, (v) => expect.closeTo(v, 12)));
    expect(Array.from(dw.data)).toEqual(Array.from(dwExpected.data, (v) => expect.closeTo(v, 12)));
  });

  it("keeps float32, and computes in float64 when either operand is", () => {
    const x32 = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    const w32 = tensor([[[[1]]]]);
    expect(conv2d(x32, w32).dtype).toBe("float32");
    expect(conv2d(x32, f64([[[[1]]]])).dtype).toBe("float64");
    expect(grad((w: Tensor) => sum(conv2d(x32, w)))(w32).dtype).toBe("float32");
  });

  it("handles an empty batch", () => {
    expect(conv2d(zeros([0, 2, 4, 4]), zeros([3, 2, 3, 3])).shape).toEqual([0, 3, 2, 2]);
  });
});

describe("conv2dBackpropInput and conv2dBackpropFilter", () => {
  const x = prng(9).normal([2, 4, 6, 5], { dtype: "float64" });
  const w = prng(10).normal([6, 2, 3, 2], { dtype: "float64" });
  const options = {
    stride: [2, 1] as [number, number],
    padding: 1,
    dilation: [1, 2] as [number, number],
    groups: 2,
  };
  const dy = prng(11).normal([2, 6, 3, 5], { dtype: "float64" });

  it("are conv2d's input and filter gradients", () => {
    const [dx, dw] = grad((x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, options), dy)), {
      argnums: [0, 1],
    })(x, w);
    const bi = conv2dBackpropInput(dy, w, { ...options, inputShape: x.shape });
    const bf = conv2dBackpropFilter(x, dy, { ...options, filterShape: w.shape });
    expect(bi.shape).toEqual(x.shape);
    expect(bf.shape).toEqual(w.shape);
    expect(Array.from(bi.data)).toEqual(Array.from(dx.data, (v) => expect.closeTo(v, 12)));
    expect(Array.from(bf.data)).toEqual(Array.from(dw.data, (v) => expect.closeTo(v, 12)));
  });

  it("support second-order gradients through conv2d (checked by finite differences)", () => {
    const small = { stride: 2, padding: 1, dilation: [2, 1] as [number, number], groups: 2 };
    const xs = prng(12).normal([1, 2, 5, 4], { dtype: "float64" });
    const ws = prng(13).normal([4, 1, 2, 2], { dtype: "float64" });
    const loss = (x: Tensor, w: Tensor) => sum(square(conv2d(x, w, small)));
    // ∂loss/∂x = BI(2y, w) and ∂loss/∂w = BF(x, 2y): differentiating them again runs the vjps of
    // all three ops.
    checkGrads((x: Tensor, w: Tensor) => grad(loss)(x, w), [xs, ws]);
    checkGrads((x: Tensor, w: Tensor) => grad(loss, { argnums: 1 })(x, w), [xs, ws]);
  });
});

describe("conv2d: errors name the op, the parameter and the numbers", () => {
  const x = zeros([2, 4, 8, 8]);

  it("rejects a weight whose input channels do not match x's", () => {
    expect(() => conv2d(x, zeros([8, 3, 3, 3]))).toThrow(
      "conv2d: w expects 3 input channels per group (w is [8,3,3,3], groups 1) but x has 4 " +
        "channels (x is [2,4,8,8])",
    );
    expect(() => conv2d(x, zeros([8, 1, 3, 3]), { groups: 2 })).toThrow(
      "conv2d: w expects 1 input channels per group (w is [8,1,3,3], groups 2) but x has 4 " +
        "channels, 2 per group (x is [2,4,8,8])",
    );
  });

  it("rejects groups that do not divide the channels", () => {
    expect(() => conv2d(x, zeros([8, 1, 3, 3]), { groups: 3 })).toThrow(
      "conv2d: groups 3 must divide the 4 input channels of x (x is [2,4,8,8])",
    );
    expect(() => conv2d(x, zeros([6, 1, 3, 3]), { groups: 4 })).toThrow(
      "conv2d: groups 4 must divide the 6 output channels of w (w is [6,1,3,3])",
    );
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { groups: 0 })).toThrow(
      "conv2d: groups must be a positive integer, got 0",
    );
  });

  it("rejects a window larger than the padded input", () => {
    expect(() => conv2d(x, zeros([8, 4, 5, 11]), { padding: 1 })).toThrow(
      "conv2d: the width window (kernel 11, dilation 1: span 11) is larger than the padded " +
        "input width 10 (8 + padding 1+1)",
    );
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { dilation: 4 })).toThrow(
      "conv2d: the height window (kernel 3, dilation 4: span 9) is larger than the padded " +
        "input height 8 (8 + padding 0+0)",
    );
  });

  it("rejects 'same' padding with a stride", () => {
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { padding: "same", stride: 2 })).toThrow(
      "conv2d: padding 'same' needs stride 1, got stride [2,2]",
    );
  });

  it("rejects non-positive sizes and strides", () => {
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { stride: [1, 0] })).toThrow(
      "conv2d: stride must be an integer ≥ 1 or a pair of them, got [1,0]",
    );
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { padding: -1 })).toThrow(
      "conv2d: padding must be an integer ≥ 0 or a pair of them, got -1",
    );
    expect(() => conv2d(x, zeros([8, 4, 0, 3]))).toThrow(
      "conv2d: w must have positive sizes, got shape [8,4,0,3]",
    );
    expect(() => conv2d(zeros([2, 4, 0, 8]), zeros([8, 4, 3, 3]))).toThrow(
      "conv2d: x must have positive channel, height and width sizes, got shape [2,4,0,8]",
    );
  });

  it("rejects wrong ranks, a bias of the wrong shape and integer dtypes", () => {
    expect(() => conv2d(zeros([4, 8]), zeros([8, 4, 3, 3]))).toThrow(
      "conv2d: x must be 4-D [N, C, H, W] or 3-D [C, H, W], got shape [4,8]",
    );
    expect(() => conv2d(x, zeros([8, 4, 3]))).toThrow(
      "conv2d: w must be 4-D [Cout, Cin/groups, kh, kw], got shape [8,4,3]",
    );
    expect(() => conv2d(x, zeros([8, 4, 3, 3]), { bias: zeros([4]) })).toThrow(
      "conv2d: bias must have shape [8] (one value per output channel), got [4]",
    );
    expect(() => conv2d(zeros([2, 4, 8, 8], "int32"), zeros([8, 4, 3, 3]))).toThrow(
      "conv2d: x must be float32 or float64, got int32",
    );
  });

  it("rejects a dy that is not conv2d's output in the backprop ops", () => {
    expect(() =>
      conv2dBackpropInput(zeros([2, 8, 5, 5]), zeros([8, 4, 3, 3]), { inputShape: [2, 4, 8, 8] }),
    ).toThrow(
      "conv2dBackpropInput: dy must have shape [2,8,6,6] (conv2d's output for inputShape " +
        "[2,4,8,8] and w [8,4,3,3]), got [2,8,5,5]",
    );
    expect(() =>
      conv2dBackpropFilter(x, zeros([2, 8, 6, 6]), { filterShape: [8, 3, 3, 3] }),
    ).toThrow(
      "conv2dBackpropFilter: filterShape expects 3 input channels per group (filterShape is " +
        "[8,3,3,3], groups 1) but x has 4 channels (x is [2,4,8,8])",
    );
  });
});
