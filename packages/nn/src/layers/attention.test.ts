import { describe, expect, it } from "vitest";
import { TapegradError, tensor, type Tensor } from "@tapegrad/autodiff";
import { checkGrads } from "@tapegrad/autodiff/testing";
import { multiHeadAttention, type MultiHeadAttentionParams } from "./attention.js";
import { transformerEncoderLayer } from "./transformer.js";

// Reference values from PyTorch 1.13 (float64), made by this script (Debian's python3-torch):
//   vals(n, a) = [sin(a·1), …, sin(a·n)]; E = 4, 2 heads, batch 2, length 3
//   mha = nn.MultiheadAttention(4, 2, batch_first=True) with in_proj_weight = vals(48, 0.7),
//   in_proj_bias = vals(12, 1.3), out_proj.weight = vals(16, 0.9), out_proj.bias = vals(4, 2.1);
//   x = vals(24, 0.37).reshape(2, 3, 4); y = mha(x, x, x); yPad with
//   key_padding_mask = [[F, F, T], [F, F, F]]; yCausal with attn_mask = triu(ones(3, 3), 1).
//   layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=5, dropout=0, batch_first=True,
//   activation="gelu"), its state_dict's i-th tensor = vals(numel, 0.11·(i + 1)) in state_dict
//   order; post = layer(x); pre = layer(x) with norm_first = True.

const Y = [
  3.142466655538738, -1.6615783489090945, -0.8455604696095032, 3.1912844334088275,
  2.5849002065548654, -1.1642457352347302, -1.1799684346855197, 3.2937181340766495,
  -0.5755878220185245, 0.8388848841703318, -1.612128890048374, 2.065674565778464,
  -0.4067904673515922, 1.244565190225201, -2.5085207023067384, 3.2676880636750076,
  3.1520427976276166, -1.7766547872375835, -0.6487450825127217, 2.9533691620511133,
  3.16975790049788, -1.779690369827975, -0.6610158169101632, 2.9784125133325174,
];
const Y_PAD = [
  -0.0951007520603987, 1.2602247645716984, -2.848296127780795, 3.8614214342432627,
  -0.008183338455953648, 1.1581904467326174, -2.7522132748310217, 3.7911295379861327,
  0.09220028214818876, 1.069109633295135, -2.6928289570672557, 3.7737035779177766,
  -0.4067904673515922, 1.244565190225201, -2.5085207023067384, 3.2676880636750076,
  3.1520427976276166, -1.7766547872375835, -0.6487450825127217, 2.9533691620511133,
  3.16975790049788, -1.779690369827975, -0.6610158169101632, 2.9784125133325174,
];
const Y_CAUSAL = [
  -0.11746351592785009, 1.286260412258546, -2.8726287362891267, 3.879026729498835,
  -0.008183338455953648, 1.1581904467326174, -2.7522132748310217, 3.7911295379861327,
  -0.5755878220185245, 0.8388848841703318, -1.612128890048374, 2.065674565778464,
  2.1718770311993523, -2.001049375691811, 0.7338761554678729, 0.6980092869824713,
  3.1465313207804537, -1.8219900863189404, -0.5619239836490941, 2.842989358889796, 3.16975790049788,
  -1.779690369827975, -0.6610158169101632, 2.9784125133325174,
];
const POST = [
  2.5010489796572317, 0.441428166956013, -0.2727657505323151, -0.24453106281512754,
  2.5325233575422326, 0.3494195505147667, -0.28921703473374855, -0.3145402851435927,
  2.4304676960164544, 0.1553411870314224, -0.19287925011331153, -0.9177876303135037,
  2.4344883936335426, 0.13022890474826307, -0.20404950245455425, -0.9276190886223447,
  2.495280569528337, 0.4604496518596152, -0.27625480233544697, -0.21470996527324332,
  2.5056005487686432, 0.43460185636091125, -0.27972596777946773, -0.23524263096474948,
];
const PRE = [
  4.434173548079057, 3.8486863134687543, 3.083525273734519, 0.5834750050512741, 0.6334321830803518,
  -1.1951211737560512, 1.7558358407846804, 8.423353495726568, -0.407102662633946,
  -2.4340043887624843, 0.3642442875936909, 7.148981791587049, 6.958787032820751, 4.878660328571654,
  -0.48967314041141047, -3.8879705315610655, 7.846756719960904, 6.064612966847479,
  0.9013802666271713, -2.5618359885805666, 4.355646908032807, 1.0459237073723824,
  -0.05868511535187282, 4.5691597811770315,
];

function vals(n: number, a: number, shape: number[]): Tensor {
  const data = Array.from({ length: n }, (_, i) => Math.sin(a * (i + 1)));
  return tensor(data, { shape, dtype: "float64" });
}

const x = vals(24, 0.37, [2, 3, 4]);
const mhaParams: MultiHeadAttentionParams = {
  in_proj_weight: vals(48, 0.7, [12, 4]),
  in_proj_bias: vals(12, 1.3, [12]),
  out_proj: { weight: vals(16, 0.9, [4, 4]), bias: vals(4, 2.1, [4]) },
};

function expectClose(actual: Tensor, expected: readonly number[]): void {
  expect(actual.size).toBe(expected.length);
  actual.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-12));
}

describe("multiHeadAttention", () => {
  const mha = multiHeadAttention({ embedDim: 4, numHeads: 2, batchFirst: true, dtype: "float64" });

  it("equals PyTorch's nn.MultiheadAttention, without and with a key padding mask", () => {
    expectClose(mha.apply(mhaParams, x), Y);
    // tapegrad's keyMask is 1 for a real token: PyTorch's key_padding_mask inverted.
    const keyMask = tensor(
      [
        [1, 1, 0],
        [1, 1, 1],
      ],
      { dtype: "int32" },
    );
    expectClose(mha.apply(mhaParams, x, { keyMask }), Y_PAD);
  });

  it("equals PyTorch's causal attention mask with causal: true", () => {
    const causal = multiHeadAttention({
      embedDim: 4,
      numHeads: 2,
      batchFirst: true,
      causal: true,
      dtype: "float64",
    });
    expectClose(causal.apply(mhaParams, x), Y_CAUSAL);
  });

  it("takes [T, B, E] by default, as PyTorch", () => {
    const seqFirst = multiHeadAttention({ embedDim: 4, numHeads: 2, dtype: "float64" });
    const swapped = (t: Tensor) => {
      const [b, s, e] = t.shape as [number, number, number];
      const out: number[] = [];
      for (let j = 0; j < s; j++)
        for (let i = 0; i < b; i++)
          for (let k = 0; k < e; k++) out.push(t.data[(i * s + j) * e + k]!);
      return tensor(out, { shape: [s, b, e], dtype: "float64" });
    };
    const y = seqFirst.apply(mhaParams, swapped(x));
    expectClose(swapped(y), Y);
  });

  it("passes checkGrads through the fused attention op", () => {
    checkGrads((p: MultiHeadAttentionParams, v: Tensor) => mha.apply(p, v), [mhaParams, x]);
  });

  it("explains wrong shapes and options", () => {
    expect(() => multiHeadAttention({ embedDim: 6, numHeads: 4 })).toThrow(
      "multiHeadAttention: numHeads must divide embedDim, got embedDim 6 and numHeads 4",
    );
    expect(() =>
      mha.apply(mhaParams, vals(12, 1, [1, 3, 4]), { keyMask: tensor([1, 1], { dtype: "int32" }) }),
    ).toThrow("multiHeadAttention: ctx.keyMask must be [B, S] = [1, 3] (or [3]), got shape [2]");
    expect(() => mha.apply(mhaParams, vals(10, 1, [2, 5]))).toThrow(TapegradError);
  });
});

describe("transformerEncoderLayer", () => {
  const names = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
  ];

  /** PyTorch's state_dict as a params tree: dotted names nest. */
  function params(): Record<string, unknown> {
    const sizes: Record<string, number[]> = {
      "self_attn.in_proj_weight": [12, 4],
      "self_attn.in_proj_bias": [12],
      "self_attn.out_proj.weight": [4, 4],
      "self_attn.out_proj.bias": [4],
      "linear1.weight": [5, 4],
      "linear1.bias": [5],
      "linear2.weight": [4, 5],
      "linear2.bias": [4],
      "norm1.weight": [4],
      "norm1.bias": [4],
      "norm2.weight": [4],
      "norm2.bias": [4],
    };
    const tree: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const shape = sizes[name]!;
      const n = shape.reduce((a, b) => a * b, 1);
      const path = name.startsWith("self_attn.")
        ? ["self_attn", name.slice("self_attn.".length)]
        : name.split(".");
      const leafPath = path[1]!.startsWith("out_proj.")
        ? [path[0]!, "out_proj", path[1]!.slice(9)]
        : path;
      let node = tree;
      for (const key of leafPath.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
      node[leafPath.at(-1)!] = vals(n, 0.11 * (i + 1), shape);
    });
    return tree;
  }

  const options = {
    dModel: 4,
    numHeads: 2,
    dimFeedforward: 5,
    dropout: 0,
    activation: "gelu" as const,
    batchFirst: true,
    dtype: "float64" as const,
  };

  it("equals PyTorch's nn.TransformerEncoderLayer, post-norm and pre-norm", () => {
    expectClose(transformerEncoderLayer(options).apply(params(), x), POST);
    expectClose(transformerEncoderLayer({ ...options, normFirst: true }).apply(params(), x), PRE);
  });

  it("has PyTorch's parameter names and passes checkGrads", () => {
    const layer = transformerEncoderLayer(options);
    checkGrads((p: Record<string, unknown>, v: Tensor) => layer.apply(p, v), [params(), x]);
  });
});
