import { describe, expect, it } from "vitest";
import {
  checkGrads,
  grad,
  log,
  mul,
  oneHot,
  prng,
  reshape,
  sigmoid,
  slice,
  softmax,
  sub,
  tensor,
  vmap,
  type Tensor,
} from "@tapegrad/autodiff";
import { binaryCrossEntropyWithLogits, crossEntropy, mse, nllLoss } from "./losses.js";

const f64 = (values: number[] | number[][]) => tensor(values, { dtype: "float64" });
const int32 = (values: number[]) => tensor(values, { dtype: "int32" });

function expectValues(t: Tensor, values: number[], digits = 12): void {
  expect(Array.from(t.data)).toHaveLength(values.length);
  Array.from(t.data).forEach((v, i) => expect(v).toBeCloseTo(values[i]!, digits));
}

// Row 0: logits [1, 2, 3], label 2: −log p₂ = logSumExp − 3 = log(1 + e⁻¹ + e⁻²) = 0.4076059644443806.
// Row 1: logits [1, 1, 1], label 0: −log p₀ = log 3 = 1.09861228866811.
const logits = f64([
  [1, 2, 3],
  [1, 1, 1],
]);
const labels = int32([2, 0]);
const row0 = 0.4076059644443806;
const row1 = Math.log(3);

describe("crossEntropy", () => {
  it("gives per-example gradients under vmap; labels out of range are still an error", () => {
    const logits = f64([
      [1, 2, 0.5],
      [0.3, -1, 2],
    ]);
    const labels = tensor([2, 0], { dtype: "int32" });
    const one = (l: Tensor, y: Tensor) => crossEntropy(reshape(l, [1, 3]), reshape(y, [1]));
    const perExample = vmap(grad(one))(logits, labels);
    [0, 1].forEach((b) => {
      const g = grad(one)(reshape(slice(logits, [b], [b + 1]), [3]), slice(labels, [b], [b + 1]));
      expect((perExample.toArray() as number[][])[b]).toEqual(g.toArray());
    });
    expect(() => vmap(one)(logits, tensor([5, 0], { dtype: "int32" }))).toThrow(
      /out of range for 3 classes/,
    );
  });

  it("gives −log softmax at the label, reduced by mean, sum or none", () => {
    expectValues(crossEntropy(logits, labels), [(row0 + row1) / 2]);
    expect(crossEntropy(logits, labels).shape).toEqual([]);
    expectValues(crossEntropy(logits, labels, { reduction: "sum" }), [row0 + row1]);
    const none = crossEntropy(logits, labels, { reduction: "none" });
    expect(none.shape).toEqual([2]);
    expectValues(none, [row0, row1]);
  });

  it("smooths labels as PyTorch: target (1 − ε)·onehot + ε/C", () => {
    // ε = 0.1, C = 3. Row 0: −log p = [2.4076…, 1.4076…, 0.4076…], so the loss is
    // 0.9·0.4076… + (0.1/3)·(2.4076… + 1.4076… + 0.4076…) = 0.4076… + 0.1 = 0.5076059644443806.
    // Row 1: every −log p is log 3, so smoothing changes nothing.
    const smoothed = crossEntropy(logits, labels, { labelSmoothing: 0.1, reduction: "none" });
    expectValues(smoothed, [0.5076059644443806, row1]);
    // ε = 1: the target is uniform, the loss the mean of −log p over classes.
    expectValues(crossEntropy(logits, labels, { labelSmoothing: 1, reduction: "none" }), [
      row0 + 1,
      row1,
    ]);
  });

  it("stays finite for logits of ±1000, in float32 and float64", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const x = tensor(
        [
          [1000, -1000, 0],
          [-1000, 1000, 0],
        ],
        { dtype },
      );
      const y = int32([0, 0]);
      // Row 0 is right with certainty (loss 0); row 1 puts its label 2000 below the maximum.
      expectValues(crossEntropy(x, y, { reduction: "none" }), [0, 2000], 4);
      const g = grad((z: Tensor) => crossEntropy(z, y, { labelSmoothing: 0.1 }))(x);
      expect(Array.from(g.data).every(Number.isFinite)).toBe(true);
      // Mean over N = 2 of softmax − q, q = 0.9·onehot + 0.1/3: row 1 is [−(0.9 + 0.1/3), 1 − 0.1/3, −0.1/3]/2.
      expect(g.data[3]).toBeCloseTo(-(0.9 + 0.1 / 3) / 2, 6);
      expect(g.data[4]).toBeCloseTo((1 - 0.1 / 3) / 2, 6);
    }
  });

  it("has gradient (softmax − onehot)/N, checked against finite differences", () => {
    const rng = prng(7);
    const x = rng.normal([4, 5], { dtype: "float64" });
    const y = int32([0, 4, 2, 2]);
    const g = grad((z: Tensor) => crossEntropy(z, y))(x);
    const expected = mul(sub(softmax(x, 1), oneHot(y, 5, "float64")), 1 / 4);
    expectValues(g, Array.from(expected.data), 12);
    checkGrads((z: Tensor) => crossEntropy(z, y), [x]);
    checkGrads((z: Tensor) => crossEntropy(z, y, { labelSmoothing: 0.2, reduction: "sum" }), [x]);
    checkGrads((z: Tensor) => crossEntropy(z, y, { reduction: "none" }), [x]);
  });

  it("rejects wrong shapes, dtypes, labels and options with precise messages", () => {
    expect(() => crossEntropy(tensor(1, { dtype: "float64" }), int32([0]))).toThrow(
      "crossEntropy: logits must have shape [..., C] (classes last), got []",
    );
    expect(() => crossEntropy(f64([1, 2]), int32([0]))).toThrow(
      "crossEntropy: labels must have shape [] (logits has shape [2]), got [1]",
    );
    expect(() => crossEntropy(logits, f64([0, 1]))).toThrow(
      "crossEntropy: labels must be int32 class indices, got float64",
    );
    expect(() => crossEntropy(logits, int32([0, 1, 2]))).toThrow(
      "crossEntropy: labels must have shape [2] (logits has shape [2,3]), got [3]",
    );
    expect(() => crossEntropy(logits, int32([0, 3]))).toThrow(
      "crossEntropy: labels[1] = 3 is out of range for 3 classes; expected 0 ≤ label < 3",
    );
    expect(() => crossEntropy(logits, int32([-1, 0]))).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
    expect(() => crossEntropy(tensor([[1, 2]], { dtype: "int32" }), int32([0]))).toThrow(
      expect.objectContaining({
        code: "DTYPE_MISMATCH",
        message: "crossEntropy: logits must be float32 or float64, got int32",
      }),
    );
    expect(() => crossEntropy(logits, labels, { reduction: "avg" as never })).toThrow(
      'crossEntropy: reduction must be "mean", "sum" or "none", got avg',
    );
    expect(() => crossEntropy(logits, labels, { labelSmoothing: 1.5 })).toThrow(
      "crossEntropy: labelSmoothing must be a number in [0, 1], got 1.5",
    );
  });
});

// PyTorch documents CrossEntropyLoss (torch.nn.CrossEntropyLoss, "label_smoothing" and
// "ignore_index") as l_n = (1 − ε)·(−log p_{n,y_n}) + (ε/C)·Σ_c (−log p_{n,c}), with l_n = 0
// where y_n = ignore_index, and 'mean' = Σ_n l_n / #{n : y_n ≠ ignore_index}. Rows used below:
// [1, 2, 3] label 2: −log p = [L₀ + 2, L₀ + 1, L₀] with L₀ = log(1 + e⁻¹ + e⁻²) = 0.4076059644443806.
// [1, 1, 1] label 0: every −log p is log 3.
// [0, 0.5, −1] label 0: −log p = [L₂, L₂ − 0.5, L₂ + 1] with L₂ = log(1 + e^0.5 + e⁻¹) =
// 1.1041306053367284; with ε = 0.1 the loss is L₂ + 0.1·(1/6) = 1.120797272003395.
const row2 = 1.1041306053367284;
// Classes last: [2, 2, 3] logits, the fourth position's label ignored.
const logits3 = tensor(
  [
    [
      [1, 2, 3],
      [1, 1, 1],
    ],
    [
      [0, 0.5, -1],
      [3, 2, 1],
    ],
  ],
  { dtype: "float64" },
);
const labels3 = tensor(
  [
    [2, 0],
    [0, -100],
  ],
  { dtype: "int32" },
);

describe("crossEntropy over [..., C] with ignoreIndex", () => {
  it("takes classes on the last axis and skips ignored labels, as PyTorch's formula", () => {
    const options = { ignoreIndex: -100 };
    const none = crossEntropy(logits3, labels3, { ...options, reduction: "none" });
    expect(none.shape).toEqual([2, 2]);
    expectValues(none, [row0, row1, row2, 0]);
    // PyTorch 1.13: F.cross_entropy(x.permute(0, 2, 1), y) (ignore_index −100 by default) =
    // 0.8701162861497395 = (L₀ + log 3 + L₂)/3: the mean counts the three labels kept.
    expectValues(crossEntropy(logits3, labels3, options), [(row0 + row1 + row2) / 3]);
    expectValues(crossEntropy(logits3, labels3, options), [0.8701162861497395]);
    expectValues(crossEntropy(logits3, labels3, { ...options, reduction: "sum" }), [
      row0 + row1 + row2,
    ]);
  });

  it("smooths labels and still leaves ignored positions out", () => {
    const smoothed = { ignoreIndex: -100, labelSmoothing: 0.1 };
    const none = crossEntropy(logits3, labels3, { ...smoothed, reduction: "none" });
    expectValues(none, [row0 + 0.1, row1, row2 + 0.1 / 6, 0]);
    // PyTorch 1.13 with label_smoothing=0.1 gives 0.9090051750386284 for the mean.
    expectValues(crossEntropy(logits3, labels3, smoothed), [
      (row0 + 0.1 + row1 + row2 + 0.1 / 6) / 3,
    ]);
    expectValues(crossEntropy(logits3, labels3, smoothed), [0.9090051750386284]);
  });

  it("gives ignored positions zero gradient and the rest (softmax − q)/n", () => {
    const loss = (x: Tensor) =>
      crossEntropy(x, labels3, { ignoreIndex: -100, labelSmoothing: 0.1 });
    // PyTorch 1.13 x.grad after the mean loss above: row [1, 1, 1] (label 0) is
    // (1/3 − (0.9 + 0.1/3))/3 = −0.2 at the label and (1/3 − 0.1/3)/3 = 0.1 elsewhere.
    expectValues(
      grad(loss)(logits3),
      [
        0.0188990799456824, 0.0704650459071548, -0.0893641258528372, -0.2, 0.1, 0.1,
        -0.2006114576364139, 0.1710720179776155, 0.0295394396587985, 0, 0, 0,
      ],
    );
    checkGrads(loss, [logits3]);
    checkGrads(
      (x: Tensor) => crossEntropy(x, labels3, { ignoreIndex: -100, reduction: "sum" }),
      [logits3],
    );
  });

  it("ignores a label inside 0…C−1 too, and gives NaN for a mean over no labels (0/0)", () => {
    // PyTorch 1.13: F.cross_entropy(x, tensor([2, 0]), ignore_index=0) = 0.4076059644443804.
    expectValues(crossEntropy(logits, labels, { ignoreIndex: 0 }), [row0]);
    const allIgnored = int32([-1, -1]);
    expect(crossEntropy(logits, allIgnored, { ignoreIndex: -1 }).item()).toBeNaN();
    expect(crossEntropy(logits, allIgnored, { ignoreIndex: -1, reduction: "sum" }).item()).toBe(0);
  });

  it("takes one unbatched example: logits [C] and a scalar label", () => {
    const one = crossEntropy(f64([1, 2, 3]), tensor(2, { dtype: "int32" }));
    expect(one.shape).toEqual([]);
    expectValues(one, [row0]);
  });

  it("gives per-example gradients under vmap with ignored labels", () => {
    const one = (l: Tensor, y: Tensor) => crossEntropy(l, y, { ignoreIndex: -100 });
    const perExample = vmap(grad(one))(logits3, labels3);
    [0, 1].forEach((b) => {
      const g = grad(one)(
        reshape(slice(logits3, [b], [b + 1]), [2, 3]),
        reshape(slice(labels3, [b], [b + 1]), [2]),
      );
      expect((perExample.toArray() as number[][][])[b]).toEqual(g.toArray());
    });
  });

  it("names a bad ignoreIndex and labels neither in range nor ignored", () => {
    expect(() => crossEntropy(logits, labels, { ignoreIndex: 1.5 })).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: "crossEntropy: ignoreIndex must be an int32 integer such as -100, got 1.5",
      }),
    );
    expect(() => crossEntropy(logits3, labels3, { ignoreIndex: -1 })).toThrow(
      "crossEntropy: labels[1,1] = -100 is out of range for 3 classes; " +
        "expected 0 ≤ label < 3 or the ignoreIndex -1",
    );
    expect(() => crossEntropy(logits3, int32([0, 1]))).toThrow(
      "crossEntropy: labels must have shape [2,2] (logits has shape [2,2,3]), got [2]",
    );
  });
});

describe("nllLoss", () => {
  it("picks −logProbs at each label", () => {
    const logProbs = f64([
      [-0.5, -1, -2],
      [-3, -0.25, -4],
    ]);
    expectValues(nllLoss(logProbs, int32([0, 2])), [(0.5 + 4) / 2]);
    expectValues(nllLoss(logProbs, int32([0, 2]), { reduction: "sum" }), [4.5]);
    expectValues(nllLoss(logProbs, int32([1, 1]), { reduction: "none" }), [1, 0.25]);
  });

  it("ignores −∞ at classes other than the label (log 0 from a saturated softmax)", () => {
    const logProbs = f64([[0, Number.NEGATIVE_INFINITY]]);
    expectValues(nllLoss(logProbs, int32([0])), [0]);
    const g = grad((z: Tensor) => nllLoss(z, int32([0])))(logProbs);
    expect(Array.from(g.data, (v) => v + 0)).toEqual([-1, 0]); // + 0 turns −0 into 0
  });

  it("skips ignoreIndex labels over [..., C] log-probabilities", () => {
    const logProbs = tensor([[[-0.5, -1, -2]], [[-3, -0.25, -4]]], { dtype: "float64" });
    const y = tensor([[0], [-100]], { dtype: "int32" });
    expectValues(nllLoss(logProbs, y, { ignoreIndex: -100 }), [0.5]);
    expectValues(nllLoss(logProbs, y, { ignoreIndex: -100, reduction: "none" }), [0.5, 0]);
    expect(() => nllLoss(logProbs, y, { ignoreIndex: "none" as never })).toThrow(
      "nllLoss: ignoreIndex must be an int32 integer such as -100, got none",
    );
  });

  it("matches crossEntropy on log(softmax(x))", () => {
    const x = prng(3).normal([3, 4], { dtype: "float64" });
    const y = int32([3, 0, 1]);
    expectValues(nllLoss(log(softmax(x)), y), Array.from(crossEntropy(x, y).data));
  });
});

describe("binaryCrossEntropyWithLogits", () => {
  const naive = (z: number, t: number, p = 1) => {
    const s = 1 / (1 + Math.exp(-z));
    return -(p * t * Math.log(s) + (1 - t) * Math.log(1 - s));
  };

  it("matches hand values: max(z, 0) − z·t + log(1 + e^−|z|)", () => {
    // z = 0, t = 1: log 2. z = 2, t = 0: 2 + log(1 + e⁻²) = 2.1269280110429727.
    // z = −1, t = 1: 1 + log(1 + e⁻¹) = 1.3132616875182228.
    // z = 3, t = 0.25: 3 − 0.75 + log(1 + e⁻³) = 2.298587351573742.
    const z = f64([0, 2, -1, 3]);
    const t = f64([1, 0, 1, 0.25]);
    const expected = [Math.log(2), 2.1269280110429727, 1.3132616875182228, 2.298587351573742];
    expectValues(binaryCrossEntropyWithLogits(z, t, { reduction: "none" }), expected);
    expectValues(binaryCrossEntropyWithLogits(z, t), [expected.reduce((a, b) => a + b) / 4]);
    expectValues(binaryCrossEntropyWithLogits(z, t, { reduction: "sum" }), [
      expected.reduce((a, b) => a + b),
    ]);
  });

  it("matches the naive formula on moderate inputs, with and without posWeight", () => {
    const rng = prng(11);
    const z = rng.uniform([3, 4], { low: -6, high: 6, dtype: "float64" });
    const t = rng.uniform([3, 4], { low: 0, high: 1, dtype: "float64" });
    const p = f64([0.5, 1, 2, 3]);
    const plain = binaryCrossEntropyWithLogits(z, t, { reduction: "none" });
    const weighted = binaryCrossEntropyWithLogits(z, t, { reduction: "none", posWeight: p });
    const [zs, ts, ps] = [z.data, t.data, p.data];
    const [plains, weighteds] = [plain.data, weighted.data];
    for (let i = 0; i < 12; i++) {
      expect(plains[i]).toBeCloseTo(naive(zs[i]!, ts[i]!), 10);
      expect(weighteds[i]).toBeCloseTo(naive(zs[i]!, ts[i]!, ps[i % 4]!), 10);
    }
    const scalarWeighted = binaryCrossEntropyWithLogits(z, t, { reduction: "none", posWeight: 3 });
    expect(scalarWeighted.data[5]).toBeCloseTo(naive(z.data[5]!, t.data[5]!, 3), 10);
  });

  it("stays finite for logits of ±1000", () => {
    const z = tensor([1000, -1000, 1000, -1000]);
    const t = tensor([1, 0, 0, 1]);
    expectValues(binaryCrossEntropyWithLogits(z, t, { reduction: "none" }), [0, 0, 1000, 1000], 3);
    const weighted = binaryCrossEntropyWithLogits(z, t, { reduction: "none", posWeight: 2 });
    expectValues(weighted, [0, 0, 1000, 2000], 3);
    const g = grad((x: Tensor) => binaryCrossEntropyWithLogits(x, t, { posWeight: 2 }))(z);
    expect(Array.from(g.data).every(Number.isFinite)).toBe(true);
  });

  it("has gradient (σ(z) − t)/N", () => {
    const z = f64([-2, 0.5, 3]);
    const t = f64([0, 1, 0.3]);
    const g = grad((x: Tensor) => binaryCrossEntropyWithLogits(x, t))(z);
    expectValues(g, Array.from(mul(sub(sigmoid(z), t), 1 / 3).data));
    checkGrads((x: Tensor) => binaryCrossEntropyWithLogits(x, t, { posWeight: f64([2]) }), [z]);
  });

  it("rejects mismatched shapes and a posWeight that does not broadcast", () => {
    expect(() => binaryCrossEntropyWithLogits(f64([1, 2]), f64([1]))).toThrow(
      "binaryCrossEntropyWithLogits: targets has shape [1], expected [2] (the shape of logits)",
    );
    expect(() =>
      binaryCrossEntropyWithLogits(f64([[1, 2]]), f64([[1, 0]]), { posWeight: f64([1, 2, 3]) }),
    ).toThrow(
      "binaryCrossEntropyWithLogits: posWeight of shape [3] does not broadcast to the logits' shape [1,2]",
    );
  });
});

describe("mse", () => {
  it("follows the halved convention J = 1/(2m)·Σ (f(x) − y)² with half: true", () => {
    // f − y = [1, −2, 3]: Σ (f − y)² = 14, m = 3.
    const f = f64([1, 0, 5]);
    const y = f64([0, 2, 2]);
    expectValues(mse(f, y, { half: true }), [14 / 6]);
    expectValues(mse(f, y), [14 / 3]);
    expectValues(mse(f, y, { reduction: "sum" }), [14]);
    expectValues(mse(f, y, { reduction: "sum", half: true }), [7]);
    expectValues(mse(f, y, { reduction: "none" }), [1, 4, 9]);
    // ∂J/∂f = (f − y)/m under that convention.
    expectValues(grad((p: Tensor) => mse(p, y, { half: true }))(f), [1 / 3, -2 / 3, 1]);
  });

  it("gives docs/cnn-backward.md's gradients on the two-neuron network", () => {
    // a = sigmoid(x·w11 + b1) = sigmoid(1), y = a·w21 + b2 (relu inactive), J = ½(y − 2)²:
    // ∂J/∂w21 = (y − 2)·a ≈ −0.196612.
    const a = sigmoid(f64([1]));
    const dw = grad((w: Tensor) => mse(mul(a, w), f64([1]), { half: true }))(f64([1]));
    expect(dw.item()).toBeCloseTo(-0.196612, 6);
  });

  it("rejects tensors of different shapes", () => {
    expect(() => mse(f64([1, 2]), f64([[1, 2]]))).toThrow(
      "mse: target has shape [1,2], expected [2] (the shape of pred)",
    );
  });
});
