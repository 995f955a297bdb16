import { checkGrads } from "@tapegrad/autodiff/testing";
import {
  add,
  concat,
  mul,
  profileTape,
  prng,
  reshape,
  slice,
  sum,
  TapegradError,
  tensor,
  transpose,
  valueAndGrad,
  zeros,
  type NestedArray,
  type Tensor,
} from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { loadInto, treeFlatten } from "../tree.js";
import { gru, lstm, type RecurrentParams } from "./recurrent.js";

const f64 = (values: NestedArray) => tensor(values, { dtype: "float64" });
const ln2 = Math.log(2);
const ln3 = Math.log(3);

function expectClose(actual: Tensor, expected: NestedArray, digits = 12): void {
  const flat = (v: NestedArray): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
  const want = flat(expected);
  const got = Array.from(actual.data);
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, digits));
}

/*
 * Reference values from PyTorch 1.13 (Debian's python3-torch), with weights rounded to 3
 * decimals so that they are exact literals here:
 *
 * /usr/bin/python3 -c "import torch
 * torch.manual_seed(0)
 * def rounded(m):
 *     with torch.no_grad():
 *         for p in m.parameters(): p.copy_(torch.round(p * 1000) / 1000)
 *     return m
 * lstm = rounded(torch.nn.LSTM(3, 2, num_layers=2).double())
 * gru = rounded(torch.nn.GRU(3, 2, num_layers=2).double())
 * x = torch.round(torch.randn(3, 2, 3, dtype=torch.float64) * 1000) / 1000
 * h0 = torch.round(torch.randn(2, 2, 2, dtype=torch.float64) * 1000) / 1000
 * c0 = torch.round(torch.randn(2, 2, 2, dtype=torch.float64) * 1000) / 1000
 * for name, m in [('lstm', lstm), ('gru', gru)]:
 *     for k, v in m.state_dict().items(): print(name, k, v.tolist())
 * y, (h, c) = lstm(x, (h0, c0)); print(x.tolist(), h0.tolist(), c0.tolist())
 * print(y.tolist(), h.tolist(), c.tolist())
 * y, h = gru(x, h0); print(y.tolist(), h.tolist())"
 */
const torchX = [
  [
    [-1.467, 1.11, -0.683],
    [0.431, -0.366, -0.531],
  ],
  [
    [-0.134, 1.364, 0.233],
    [1.106, 0.237, -1.52],
  ],
  [
    [1.022, 1.115, -0.556],
    [0.533, -0.188, 0.399],
  ],
];
const torchH0 = [
  [
    [0.672, -0.533],
    [-0.19, -0.19],
  ],
  [
    [1.356, 0.734],
    [0.806, 0.741],
  ],
];
const torchC0 = [
  [
    [0.609, -0.556],
    [0.548, 0.438],
  ],
  [
    [0.039, -1.19],
    [-0.501, -0.146],
  ],
];
const torchLstm = {
  weight_ih_l0: [
    [-0.005, 0.379, -0.582],
    [-0.52, -0.272, 0.19],
    [-0.014, 0.561, -0.063],
    [0.187, -0.214, -0.139],
    [-0.676, -0.468, -0.291],
    [0.026, 0.28, 0.424],
    [-0.479, -0.308, 0.257],
    [0.587, -0.146, 0.529],
  ],
  weight_hh_l0: [
    [-0.114, 0.075],
    [0.64, -0.656],
    [-0.445, -0.179],
    [-0.276, 0.611],
    [-0.458, -0.326],
    [-0.494, -0.662],
    [-0.413, 0.608],
    [0.316, 0.343],
  ],
  bias_ih_l0: [0.037, -0.363, 0.12, -0.66, -0.511, -0.365, 0.446, 0.415],
  bias_hh_l0: [-0.314, -0.026, 0.452, 0.703, 0.281, 0.096, 0.474, -0.416],
  weight_ih_l1: [
    [0.132, -0.548],
    [-0.49, -0.365],
    [0.32, 0.284],
    [-0.419, 0.214],
    [0.388, -0.089],
    [0.027, 0.164],
    [0.439, 0.679],
    [-0.545, -0.259],
  ],
  weight_hh_l1: [
    [0.278, 0.586],
    [0.615, 0.624],
    [0.141, -0.615],
    [0.065, -0.442],
    [-0.659, 0.628],
    [0.538, -0.705],
    [0.132, -0.119],
    [-0.116, -0.324],
  ],
  bias_ih_l1: [0.272, -0.419, 0.259, 0.358, 0.506, 0.264, -0.7, -0.459],
  bias_hh_l1: [0.353, 0.148, -0.552, -0.407, 0.665, 0.476, -0.308, -0.178],
};
const torchGru = {
  weight_ih_l0: [
    [-0.674, -0.013, -0.532],
    [-0.545, -0.039, 0.106],
    [-0.29, 0.42, -0.43],
    [0.642, 0.485, -0.596],
    [-0.176, 0.032, 0.103],
    [0.168, 0.277, 0.042],
  ],
  weight_hh_l0: [
    [-0.345, 0.335],
    [-0.678, -0.419],
    [-0.177, -0.344],
    [-0.247, -0.58],
    [-0.15, 0.151],
    [-0.461, -0.036],
  ],
  bias_ih_l0: [0.506, -0.073, 0.02, -0.061, 0.143, 0.45],
  bias_hh_l0: [0.67, 0.449, 0.671, -0.051, -0.635, -0.335],
  weight_ih_l1: [
    [0.481, -0.005],
    [-0.351, -0.542],
    [-0.662, -0.597],
    [-0.143, 0.388],
    [0.382, -0.682],
    [0.441, -0.553],
  ],
  weight_hh_l1: [
    [-0.149, -0.287],
    [-0.136, -0.139],
    [-0.635, -0.611],
    [-0.111, 0.009],
    [-0.321, 0.266],
    [-0.636, -0.048],
  ],
  bias_ih_l1: [0.622, -0.288, 0.639, 0.256, -0.638, 0.447],
  bias_hh_l1: [-0.082, -0.316, 0.565, -0.571, 0.076, -0.148],
};

function paramsOf(values: Record<string, NestedArray>): RecurrentParams {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, f64(v)]));
}

describe("lstm", () => {
  it("uses PyTorch's gate order i, f, g, o (one step by hand)", () => {
    // H = I = 1, x = h0 = c0 = 1. Pre-activations, one from each weight and bias tensor:
    // i = σ(b_ii = −ln 3) = 1/4, f = σ(W_if·x = ln 3) = 3/4, g = tanh(W_hg·h = ln 2) = 0.6,
    // o = σ(b_ho = ln 3) = 3/4. So c′ = f·c + i·g = 3/4 + 0.15 = 0.9 and
    // h′ = o·tanh(0.9) = 0.75 × 0.7162978701990245 = 0.5372234026492684
    // (PyTorch 1.13's LSTM with these weights gives h 0.5372, c 0.9000 too).
    // Any two gates swapped changes c′ or h′: i↔f gives c′ = 0.7.
    const params = paramsOf({
      weight_ih_l0: [[0], [ln3], [0], [0]],
      weight_hh_l0: [[0], [0], [ln2], [0]],
      bias_ih_l0: [-ln3, 0, 0, 0],
      bias_hh_l0: [0, 0, 0, ln3],
    });
    const layer = lstm({ inputSize: 1, hiddenSize: 1 });
    const one = f64([[[1]]]);
    const { output, h, c } = layer.run(params, one, { h: one, c: one });
    expectClose(c, [[[0.9]]], 15);
    expectClose(h, [[[0.5372234026492684]]], 15);
    expect(output.toArray()).toEqual(h.toArray());
  });

  it("matches torch.nn.LSTM (2 layers, initial state given)", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2, dtype: "float64" });
    // The state_dict's names are the params' own: loadInto needs no rename.
    const params = loadInto(layer.init(prng(0)).params, paramsOf(torchLstm));
    const { output, h, c } = layer.run(params, f64(torchX), {
      h: f64(torchH0),
      c: f64(torchC0),
    });
    expectClose(output, [
      [
        [0.16421510100781028, 0.01327605261530366],
        [0.12873950921006935, 0.07588453266589851],
      ],
      [
        [0.17820055538791996, 0.10846615241735812],
        [0.15836608910818017, 0.15030600611368303],
      ],
      [
        [0.16970433504352367, 0.16279893021534092],
        [0.16560042813772924, 0.1760876249802385],
      ],
    ]);
    expectClose(h, [
      [
        [-0.20052740663762195, -0.045938935646500596],
        [-0.21149806217767875, -0.04582349412115877],
      ],
      [
        [0.16970433504352367, 0.16279893021534092],
        [0.16560042813772924, 0.1760876249802385],
      ],
    ]);
    expectClose(c, [
      [
        [-0.45265365852586503, -0.08593509545664459],
        [-0.31287970811513155, -0.0736448606946035],
      ],
      [
        [0.8442672647259828, 0.48613085129532435],
        [0.8248506470254423, 0.5355661666351373],
      ],
    ]);
  });

  it("names and shapes params as PyTorch and inits them in U(±1/√H)", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 16, numLayers: 2 });
    const { params, state } = layer.init(prng(0));
    expect(state).toEqual({});
    expect(Object.entries(params).map(([k, v]) => [k, v.shape])).toEqual([
      ["weight_ih_l0", [64, 3]],
      ["weight_hh_l0", [64, 16]],
      ["bias_ih_l0", [64]],
      ["bias_hh_l0", [64]],
      ["weight_ih_l1", [64, 16]],
      ["weight_hh_l1", [64, 16]],
      ["bias_ih_l1", [64]],
      ["bias_hh_l1", [64]],
    ]);
    const all = Object.values(params).flatMap((p) => Array.from(p.data));
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...all)).toBeGreaterThan(0.24);
    const noBias = lstm({ inputSize: 3, hiddenSize: 4, bias: false }).init(prng(0)).params;
    expect(Object.keys(noBias)).toEqual(["weight_ih_l0", "weight_hh_l0"]);
  });

  it("lays out [T, B, I], [B, T, I] with batchFirst and unbatched [T, I] as PyTorch", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2 });
    const params = paramsOf(torchLstm);
    const x = f64(torchX);
    const timeMajor = layer.run(params, x);
    expect(timeMajor.output.shape).toEqual([3, 2, 2]);
    expect(timeMajor.h.shape).toEqual([2, 2, 2]);
    expect(layer.apply(params, x).toArray()).toEqual(timeMajor.output.toArray());

    const batchFirst = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2, batchFirst: true });
    const bf = batchFirst.run(params, transpose(x, [1, 0, 2]));
    expect(bf.output.toArray()).toEqual(transpose(timeMajor.output, [1, 0, 2]).toArray());
    // States stay [numLayers, B, H] with batchFirst, as PyTorch's h_n.
    expect(bf.h.toArray()).toEqual(timeMajor.h.toArray());

    // Unbatched [T, I] runs as a batch of one, with states [numLayers, H].
    const first = slice(x, [0, 0, 0], [3, 1, 3]);
    const unbatched = layer.run(params, reshape(first, [3, 3]), {
      h: reshape(slice(f64(torchH0), [0, 0, 0], [2, 1, 2]), [2, 2]),
    });
    const batchOfOne = layer.run(params, first, { h: slice(f64(torchH0), [0, 0, 0], [2, 1, 2]) });
    expect(unbatched.output.shape).toEqual([3, 2]);
    expect(unbatched.h.shape).toEqual([2, 2]);
    expect(unbatched.output.data).toEqual(batchOfOne.output.data);
    expect(unbatched.c.data).toEqual(batchOfOne.c.data);
  });

  it("continues from a returned state: two runs over halves equal one run", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2 });
    const params = paramsOf(torchLstm);
    const x = f64(torchX);
    const whole = layer.run(params, x);
    const part = layer.run(params, slice(x, [0], [2]));
    const rest = layer.run(params, slice(x, [2], [3]), part);
    expectClose(concat([part.output, rest.output], 0), whole.output.toArray(), 14);
    expectClose(rest.h, whole.h.toArray(), 14);
    expectClose(rest.c, whole.c.toArray(), 14);
  });

  it("passes checkGrads through time, layers and the initial state", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2, dtype: "float64" });
    const rng = prng(1);
    const { params } = layer.init(rng);
    const x = rng.normal([3, 2, 3], { dtype: "float64" });
    const h0 = rng.normal([2, 2, 2], { dtype: "float64" });
    const c0 = rng.normal([2, 2, 2], { dtype: "float64" });
    const w = rng.normal([3, 2, 2], { dtype: "float64" });
    checkGrads(
      (p: RecurrentParams, v: Tensor, h: Tensor, c: Tensor) => {
        const out = layer.run(p, v, { h, c });
        return add(sum(mul(out.output, w)), add(sum(mul(out.c, out.c)), sum(out.h)));
      },
      [params, x, h0, c0],
    );
  });

  it("rejects a wrong input size, a wrong state shape and missing params", () => {
    const layer = lstm({ inputSize: 3, hiddenSize: 2, numLayers: 2 });
    const params = paramsOf(torchLstm);
    const call = () => layer.apply(params, f64([[[1, 2]]]));
    expect(call).toThrow(TapegradError);
    expect(call).toThrow("lstm: x must be [T, B, 3] or [T, 3] (inputSize 3), got shape [1,1,2]");
    const bf = lstm({ inputSize: 3, hiddenSize: 2, batchFirst: true });
    expect(() => bf.apply(params, f64([1, 2, 3]))).toThrow(
      "lstm: x must be [B, T, 3] or [T, 3] (inputSize 3), got shape [3]",
    );
    expect(() => layer.run(params, f64(torchX), { h: f64(torchC0[0]!) })).toThrow(
      "lstm: state.h must be a tensor of shape [2,2,2] ([numLayers, B, hiddenSize]), got shape " +
        "[2,2]",
    );
    expect(() => layer.apply(params, zeros([0, 2, 3], "float64"))).toThrow(
      "lstm: x must have at least one time step (as PyTorch), got shape [0,2,3]",
    );
    expect(() => lstm({ inputSize: 1, hiddenSize: 1, numLayers: 1e9 })).toThrow(
      "lstm: inputSize 1, hiddenSize 1 and numLayers 1000000000 need 16000000000 parameters; " +
        "at most 2147483647 are supported",
    );
    const { weight_hh_l1: _, ...missing } = params;
    expect(() => layer.apply(missing, f64(torchX))).toThrow(
      "lstm: params.weight_hh_l1 must be a tensor of shape [8,2], got nothing",
    );
  });
});

describe("gru", () => {
  it("uses PyTorch's gate order r, z, n, with r∘(W_hn h + b_hn) (one step by hand)", () => {
    // H = I = 1, x = h0 = 1. r = σ(W_ir·x = ln 3) = 3/4, z = σ(W_hz·h = −ln 3) = 1/4,
    // n = tanh(b_in + r·(W_hn·h + b_hn)) = tanh(ln2/2 + 3/4·(2/3)·ln 2) = tanh(ln 2) = 0.6,
    // h′ = (1 − z)·n + z·h = 0.45 + 0.25 = 0.7 (PyTorch 1.13's GRU gives 0.7000 too).
    // r outside b_hn, or b_in inside r, or r↔z, would each give something else.
    const params = paramsOf({
      weight_ih_l0: [[ln3], [0], [0]],
      weight_hh_l0: [[0], [-ln3], [0]],
      bias_ih_l0: [0, 0, ln2 / 2],
      bias_hh_l0: [0, 0, (2 * ln2) / 3],
    });
    const layer = gru({ inputSize: 1, hiddenSize: 1 });
    const one = f64([[[1]]]);
    const { output, h } = layer.run(params, one, { h: one });
    expectClose(h, [[[0.7]]], 15);
    expect(output.toArray()).toEqual(h.toArray());
  });

  it("matches torch.nn.GRU (2 layers, initial state given)", () => {
    const layer = gru({ inputSize: 3, hiddenSize: 2, numLayers: 2 });
    const { output, h } = layer.run(paramsOf(torchGru), f64(torchX), { h: f64(torchH0) });
    expectClose(output, [
      [
        [0.37203010213325605, 0.5725557040406349],
        [0.24505258991194712, 0.36634699522487824],
      ],
      [
        [0.03816010515829904, 0.4848233781130995],
        [0.00985825433259846, 0.2409604580401773],
      ],
      [
        [-0.15026081470935365, 0.4014093637104845],
        [-0.1593268040439899, 0.17577852040158637],
      ],
    ]);
    expectClose(h, [
      [
        [0.13414675654544206, 0.1715737311039276],
        [-0.32583818723028035, 0.2248628663864809],
      ],
      [
        [-0.15026081470935365, 0.4014093637104845],
        [-0.1593268040439899, 0.17577852040158637],
      ],
    ]);
  });

  it("names params as PyTorch with 3H rows and lays out batchFirst and unbatched inputs", () => {
    const layer = gru({ inputSize: 5, hiddenSize: 4 });
    const { params } = layer.init(prng(0));
    expect(Object.entries(params).map(([k, v]) => [k, v.shape])).toEqual([
      ["weight_ih_l0", [12, 5]],
      ["weight_hh_l0", [12, 4]],
      ["bias_ih_l0", [12]],
      ["bias_hh_l0", [12]],
    ]);
    const all = Object.values(params).flatMap((p) => Array.from(p.data));
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(0.5);
    const x = prng(1).normal([2, 6, 5]);
    const bf = gru({ inputSize: 5, hiddenSize: 4, batchFirst: true });
    expect(bf.apply(params, x).shape).toEqual([2, 6, 4]);
    expect(bf.run(params, x).h.shape).toEqual([1, 2, 4]);
  });

  it("passes checkGrads through time, layers and the initial state", () => {
    const layer = gru({ inputSize: 3, hiddenSize: 2, numLayers: 2, dtype: "float64" });
    const rng = prng(2);
    const { params } = layer.init(rng);
    const x = rng.normal([2, 3, 3], { dtype: "float64" });
    const h0 = rng.normal([2, 2, 2], { dtype: "float64" });
    const w = rng.normal([2, 3, 2], { dtype: "float64" });
    const bf = gru({ inputSize: 3, hiddenSize: 2, numLayers: 2, batchFirst: true });
    checkGrads(
      (p: RecurrentParams, v: Tensor, h: Tensor) => {
        const out = bf.run(p, v, { h });
        return add(sum(mul(out.output, w)), sum(mul(out.h, out.h)));
      },
      [params, x, h0],
    );
    const noBias = gru({ inputSize: 3, hiddenSize: 2, bias: false, dtype: "float64" });
    checkGrads((p: RecurrentParams, v: Tensor) => noBias.apply(p, v), [noBias.init(rng).params, x]);
  });

  it("rejects a wrong input size", () => {
    const layer = gru({ inputSize: 3, hiddenSize: 2 });
    const { params } = layer.init(prng(0));
    expect(() => layer.apply(params, prng(0).normal([4, 2, 5]))).toThrow(
      "gru: x must be [T, B, 3] or [T, 3] (inputSize 3), got shape [4,2,5]",
    );
    expect(() => layer.run(params, prng(0).normal([4, 2, 3]), { h: 1 as never })).toThrow(
      "gru: state.h must be a tensor of shape [1,2,2] ([numLayers, B, hiddenSize]), got 1",
    );
  });
});

describe("remat (rematerialised time steps)", () => {
  /** Every leaf's values, path by path. */
  const values = (tree: unknown) =>
    treeFlatten(tree).map(([path, leaf]) => [path, Array.from((leaf as Tensor).data)] as const);

  for (const [name, make] of [
    ["lstm", lstm],
    ["gru", gru],
  ] as const) {
    it(`${name}: the same loss and gradients (float64 round-off), from a smaller tape`, () => {
      const options = {
        inputSize: 3,
        hiddenSize: 16,
        numLayers: 2,
        batchFirst: true,
        dtype: "float64",
      } as const;
      const plain = make(options);
      const rematted = make({ ...options, remat: true });
      const params = plain.init(prng(3)).params;
      const x = prng(4).normal([4, 12, 3], { dtype: "float64" });
      const lossOf = (layer: typeof plain) => (p: RecurrentParams) =>
        sum(mul(layer.apply(p, x), 2));
      const a = profileTape(() => valueAndGrad(lossOf(plain))(params));
      const b = profileTape(() => valueAndGrad(lossOf(rematted))(params));
      // The gradient of h sums its two uses (the next step, the output) in another order.
      const [expected, actual] = [values(a.value), values(b.value)];
      expect(actual.map(([path]) => path)).toEqual(expected.map(([path]) => path));
      actual.forEach(([, got], i) =>
        (got as number[]).forEach((v, j) =>
          expect(v).toBeCloseTo((expected[i]![1] as number[])[j]!, 12),
        ),
      );
      // The steps keep their states and inputs only, not their gates and activations.
      expect(b.peakBytes).toBeLessThan(0.6 * a.peakBytes);
    });
  }

  it("rejects a remat that is not a boolean", () => {
    expect(() => lstm({ inputSize: 1, hiddenSize: 1, remat: 1 as unknown as boolean })).toThrow(
      "lstm: remat must be true or false, got 1",
    );
  });
});
