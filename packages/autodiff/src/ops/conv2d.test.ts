import { describe, expect, it } from "vitest";
import {
  add,
  concat,
  conv2d,
  fusedConv2d,
  fusedConv2dBackward,
  getBackend,
  reluBackward,
  listBackends,
  relu,
  setBackend,
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
  vjp,
  zeros,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";
import { f64 } from "../../test/helpers.js";

/** One sample, one channel: [[…]] → [1, 1, H, W]. */
const image = (rows: number[][]) => f64([[rows]]);
const plane = (y: Tensor) => (y.toArray() as number[][][][])[0]![0];

// The seed notes' worked examples (single channel).
const x3 = image([
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
]);
const w2 = image([
  [0, 1],
  [2, 3],
]);
const x4 = image([
  [1, 2, 3, 4],
  [5, 9, 6, 7],
  [9, 0, 3, 2],
  [1, 2, 3, 4],
]);
const w4 = image([
  [1, 2],
  [3, 4],
]);

describe("conv2d: the seed notes' numbers", () => {
  it("cross-correlates without flipping the kernel", () => {
    expect(plane(conv2d(x3, w2))).toEqual([
      [19, 25],
      [37, 43],
    ]);
  });

  it("adds the filter's bias", () => {
    expect(plane(conv2d(x3, w2, { bias: f64([2]) }))).toEqual([
      [21, 27],
      [39, 45],
    ]);
  });

  it("pads with zeros (padding 1: a wide convolution, n + m − 1)", () => {
    expect(plane(conv2d(x3, w2, { padding: 1 }))).toEqual([
      [0, 3, 8, 4],
      [9, 19, 25, 10],
      [21, 37, 43, 16],
      [6, 7, 8, 0],
    ]);
  });

  it("strides (stride 2: floor((4 − 2)/2) + 1 = 2 per axis)", () => {
    expect(plane(conv2d(x4, w4, { stride: 2 }))).toEqual([
      [56, 57],
      [20, 32],
    ]);
  });

  it("has (F·F·D1 + 1)·D2 = 56 parameters for two 3×3×3 filters", () => {
    const w = zeros([2, 3, 3, 3], "float64");
    const bias = zeros([2], "float64");
    const y = conv2d(zeros([1, 3, 5, 5], "float64"), w, { bias });
    const [filters, depth, f] = [y.shape[1]!, w.shape[1]!, w.shape[2]!];
    expect(y.shape).toEqual([1, 2, 3, 3]);
    expect((f * f * depth + 1) * filters).toBe(56);
    expect(w.size + bias.size).toBe(56);
  });

  it("backward, stride 1: dx sums the kernel over the windows, dw correlates x with δ", () => {
    const [, pullback] = vjp((x: Tensor, w: Tensor) => conv2d(x, w), x3, w2);
    const [dx, dw] = pullback(
      f64([
        [
          [
            [1, 1],
            [1, 1],
          ],
        ],
      ]),
    );
    expect(plane(dx)).toEqual([
      [0, 1, 1],
      [2, 6, 4],
      [2, 5, 3],
    ]);
    expect(plane(dw)).toEqual([
      [8, 12],
      [20, 24],
    ]);
  });

  it("backward, stride 2: δ with S − 1 zeros between its entries", () => {
    const [, pullback] = vjp((x: Tensor, w: Tensor) => conv2d(x, w, { stride: 2 }), x4, w4);
    const [dx, dw] = pullback(
      image([
        [1, 2],
        [3, 4],
      ]),
    );
    // Non-overlapping windows: each holds δ_ij·w.
    expect(plane(dx)).toEqual([
      [1, 2, 2, 4],
      [3, 4, 6, 8],
      [3, 6, 4, 8],
      [9, 12, 12, 16],
    ]);
    expect(plane(dw)).toEqual([
      [46, 18],
      [32, 45],
    ]);
  });

  it("the bias gradient is the sum of δ per output channel, over batch and positions", () => {
    const x = prng(1).normal([2, 3, 4, 5], { dtype: "float64" });
    const w = prng(2).normal([4, 3, 2, 2], { dtype: "float64" });
    const dy = prng(3).normal([2, 4, 3, 4], { dtype: "float64" });
    const db = grad((b: Tensor) => sum(mul(conv2d(x, w, { bias: b }), dy)))(zeros([4], "float64"));
    const expected = sum(dy, { axis: [0, 2, 3] });
    expect(Array.from(db.data)).toEqual(Array.from(expected.data, (v) => expect.closeTo(v, 12)));
  });
});

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

describe("conv2d with bias and relu (fusedConv2d)", () => {
  /** relu(conv2d + bias) from separate ops, the reference the fused kernel must reproduce. */
  const unfused = (x: Tensor, w: Tensor, b: Tensor, activation: "linear" | "relu", padding = 0) => {
    const y = add(conv2d(x, w, { padding }), reshape(b, [b.size, 1, 1]));
    return activation === "relu" ? relu(y) : y;
  };
  // LeNet's conv1 at batch 8 (large enough for the wasm kernels) and a small odd-sized one.
  const cases = [
    { xShape: [8, 1, 28, 28], wShape: [6, 1, 5, 5], padding: 2 },
    { xShape: [2, 3, 5, 7], wShape: [4, 3, 3, 2], padding: 0 },
  ];

  for (const backend of listBackends()) {
    for (const dtype of ["float32", "float64"] as const) {
      for (const { xShape, wShape, padding } of cases) {
        it(`equals the separate ops on ${backend}, ${dtype}, x ${xShape.join("×")}`, () => {
          const previous = getBackend();
          setBackend(backend);
          try {
            const rng = prng(7);
            const x = rng.normal(xShape, { dtype });
            const w = rng.normal(wShape, { dtype });
            const b = rng.normal([wShape[0]!], { dtype });
            for (const activation of ["linear", "relu"] as const) {
              const fused = conv2d(x, w, { bias: b, padding, activation });
              const reference = unfused(x, w, b, activation, padding);
              expect(fused.dtype).toBe(dtype);
              expect(fused.toArray()).toEqual(reference.toArray());
              if (activation === "relu") {
                expect(Array.from(fused.buffer)).toContain(0);
              }
              // The same gradients, for a cotangent that weights every output differently.
              const r = rng.normal(fused.shape, { dtype });
              const loss = (f: typeof unfused) => (xx: Tensor, ww: Tensor, bb: Tensor) =>
                sum(mul(f(xx, ww, bb, activation, padding), r));
              const fusedLoss = (xx: Tensor, ww: Tensor, bb: Tensor, a: typeof activation) =>
                conv2d(xx, ww, { bias: bb, padding, activation: a });
              const got = grad(loss(fusedLoss), { argnums: [0, 1, 2] })(x, w, b);
              const want = grad(loss(unfused), { argnums: [0, 1, 2] })(x, w, b);
              got.forEach((g, i) => expect(g.toArray()).toEqual(want[i].toArray()));
            }
          } finally {
            setBackend(previous);
          }
        });
      }
    }
  }

  it("promotes to float64 when the bias is float64, as the separate add does", () => {
    const rng = prng(8);
    const x = rng.normal([2, 3, 6, 6]);
    const w = rng.normal([4, 3, 3, 3]);
    const b = rng.normal([4], { dtype: "float64" });
    const fused = conv2d(x, w, { bias: b, activation: "relu" });
    const reference = unfused(x, w, b, "relu");
    expect(fused.dtype).toBe("float64");
    expect(reference.dtype).toBe("float64");
    // The fused sums stay in float64; the separate conv rounds them to float32 first.
    const got = Array.from(fused.buffer);
    Array.from(reference.buffer).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it("passes activation without a bias to relu, and checks the bias and activation", () => {
    const w = f64([[[[1, -1]]]]);
    expect(plane(conv2d(x3, w, { activation: "relu" }))).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(plane(fusedConv2d(x3, w, f64([2]), { activation: "relu" }))).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(() => conv2d(x3, w, { activation: "tanh" as "relu" })).toThrow(
      'conv2d: activation must be "linear" or "relu", got tanh',
    );
    expect(() => fusedConv2d(x3, w, f64([1, 2]))).toThrow(
      "fusedConv2d: bias must have shape [1] (one value per output channel), got [2]",
    );
  });
});

describe("fusedConv2dBackward", () => {
  const rng = prng(11);
  const x = rng.normal([2, 3, 6, 7], { dtype: "float64" });
  const w = rng.normal([4, 3, 3, 3], { dtype: "float64" });
  const options = { padding: 1, stride: 2 } as const;
  const dy = rng.normal([2, 4, 3, 4], { dtype: "float64" });
  const y = rng.normal([2, 4, 3, 4], { dtype: "float64" });

  it("packs [dx | dw | dbias] of g = reluBackward(dy, y), as the separate ops make them", () => {
    for (const activation of ["linear", "relu"] as const) {
      for (const inputGrad of [false, true]) {
        const packed = fusedConv2dBackward(dy, y, x, w, { ...options, activation, inputGrad });
        const g = activation === "relu" ? reluBackward(dy, y) : dy;
        const parts = [
          conv2dBackpropFilter(x, g, { ...options, filterShape: w.shape }),
          sum(g, { axis: [0, 2, 3] }),
        ];
        if (inputGrad)
          parts.unshift(conv2dBackpropInput(g, w, { ...options, inputShape: x.shape }));
        const want = parts.flatMap((t) => Array.from(t.data));
        expect(packed.shape).toEqual([want.length]);
        expect(Array.from(packed.data)).toEqual(want);
      }
    }
  });

  it("names the argument and what was expected", () => {
    const call =
      (overrides: object, dyArg = dy, yArg = y) =>
      () =>
        fusedConv2dBackward(dyArg, yArg, x, w, { ...options, ...overrides });
    expect(call({}, dy, reshape(y, [2, 4, 12]))).toThrow(
      "fusedConv2dBackward: y must have shape [2,4,3,4] (fusedConv2d's output for x [2,3,6,7] " +
        "and w [4,3,3,3]), got [2,4,12]",
    );
    expect(call({}, slice(dy, [0], [1]))).toThrow(
      "fusedConv2dBackward: dy must have shape [2,4,3,4]",
    );
    expect(call({ inputGrad: 1 })).toThrow(
      "fusedConv2dBackward: inputGrad must be a boolean, got 1",
    );
    expect(call({ activation: "tanh" })).toThrow(
      'fusedConv2dBackward: activation must be "linear" or "relu", got tanh',
    );
  });
});
