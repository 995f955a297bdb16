import { gather, prng, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { parallel } from "./combinators/parallel.js";
import { defineLayer } from "./layer.js";
import { residual } from "./combinators/residual.js";
import { sequential } from "./combinators/sequential.js";
import { relu } from "./layers/activations.js";
import { batchNorm2d } from "./layers/batchNorm.js";
import { conv2d } from "./layers/conv.js";
import { dropout } from "./layers/dropout.js";
import { flatten } from "./layers/flatten.js";
import { linear } from "./layers/linear.js";
import { globalAvgPool2d, maxPool2d } from "./layers/pool.js";
import { summarize, summary } from "./summary.js";

const model = () =>
  sequential({
    stem: conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 }),
    block: residual(
      sequential({
        conv: conv2d({ inChannels: 4, outChannels: 4, kernelSize: 3, padding: 1, bias: false }),
        bn: batchNorm2d({ numFeatures: 4 }),
      }),
    ),
    mix: parallel({
      a: conv2d({ inChannels: 4, outChannels: 2, kernelSize: 1 }),
      b: maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
    }),
    act: relu(),
    pool: globalAvgPool2d(),
    flatten: flatten(),
    drop: dropout(0.5),
    head: linear({ inFeatures: 6, outFeatures: 10 }),
  });

describe("summary", () => {
  it("records every layer as applied: path, depth, kind, output shape, counts", () => {
    const s = summarize(model(), [2, 3, 8, 8]);
    expect(s.rows.map((r) => [r.path, r.depth, r.kind, r.outputShape, r.params])).toEqual([
      ["", 0, "sequential", [2, 10], 112 + 144 + 8 + 10 + 70],
      ["stem", 1, "conv2d", [2, 4, 8, 8], (3 * 3 * 3 + 1) * 4],
      ["block", 1, "residual", [2, 4, 8, 8], 144 + 8],
      ["block.block", 2, "sequential", [2, 4, 8, 8], 144 + 8],
      ["block.block.conv", 3, "conv2d", [2, 4, 8, 8], 144],
      ["block.block.bn", 3, "batchNorm2d", [2, 4, 8, 8], 8],
      ["mix", 1, "parallel", [2, 6, 8, 8], 10],
      ["mix.a", 2, "conv2d", [2, 2, 8, 8], 10],
      ["mix.b", 2, "maxPool2d", [2, 4, 8, 8], 0],
      ["act", 1, "relu", [2, 6, 8, 8], 0],
      ["pool", 1, "globalAvgPool2d", [2, 6, 1, 1], 0],
      ["flatten", 1, "flatten", [2, 6], 0],
      ["drop", 1, "dropout", [2, 6], 0],
      ["head", 1, "linear", [2, 10], 70],
    ]);
    expect(s.rows.find((r) => r.path === "block.block.bn")!.state).toBe(8);
    expect(s.trainableParams).toBe(344);
    expect(s.nonTrainableParams).toBe(8);
    expect(s.totalParams).toBe(352);
  });

  it("prints an indented table with totals", () => {
    const text = summary(model(), [2, 3, 8, 8]);
    const lines = text.split("\n");
    expect(lines[1]).toMatch(/^Layer\s+Kind\s+Output shape\s+Params$/);
    expect(lines).toContainEqual(expect.stringMatching(/^\(input\)\s+\[2, 3, 8, 8\]$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^\(model\)\s+sequential\s+\[2, 10\]\s+--$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {6}block\.block\.conv\s+conv2d\s+\[2, 4, 8, 8\]\s+144$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {4}mix\.b\s+maxPool2d\s+\[2, 4, 8, 8\]\s+--$/),
    );
    expect(text).toContain("Total params: 352");
    expect(text).toContain("Trainable params: 344");
    expect(text).toContain("Non-trainable params (state): 8");
  });

  it("reports given variables and a single layer", () => {
    const layer = linear({ inFeatures: 1000, outFeatures: 1000 });
    const variables = layer.init(prng(3));
    const s = summarize(layer, [1, 1000], { variables });
    expect(s.rows).toHaveLength(1);
    expect(summary(layer, [1, 1000])).toContain("Total params: 1,001,000");
  });

  it("rejects a bad input shape and shows where the model fails", () => {
    expect(() => summary(model(), [2, 3.5] as never)).toThrow(
      "summary: inputShape must be an array of sizes or a Tensor, got [2,3.5]",
    );
    expect(() => summary(model(), [2, 1, 8, 8])).toThrow(
      "stem: conv2d: x must be [N, 3, H, W] or [3, H, W] (3 input channels), got shape [2,1,8,8]",
    );
  });
});

/** A lookup table [vocabulary, dim] indexed by int32 token ids [B, T] → [B, T, dim]. */
const tokenTable = (vocabulary: number, dim: number) =>
  defineLayer<{ weight: Tensor }, Record<string, never>>({
    kind: "tokenTable",
    init: (rng) => ({ params: { weight: rng.normal([vocabulary, dim]) }, state: {} }),
    applyWithState: (params, state, x) => [gather(params.weight, x, 0), state],
  });

const languageModel = () =>
  sequential({
    embed: tokenTable(11, 4),
    head: linear({ inFeatures: 4, outFeatures: 11 }),
  });

describe("summary of a model that takes token ids", () => {
  it("runs on int32 zeros with dtype int32: zero is a valid id", () => {
    const s = summarize(languageModel(), [2, 5], { dtype: "int32" });
    expect(s.inputShape).toEqual([2, 5]);
    expect(s.rows.map((r) => [r.path, r.outputShape, r.params])).toEqual([
      ["", [2, 5, 11], 44 + 55],
      ["embed", [2, 5, 4], 11 * 4],
      ["head", [2, 5, 11], 4 * 11 + 11],
    ]);
    expect(summary(languageModel(), [2, 5], { dtype: "int32" })).toContain("Total params: 99");
  });

  it("runs on a given input tensor, such as real token ids", () => {
    const ids = tensor([[3, 1, 4]], { dtype: "int32" });
    const s = summarize(languageModel(), ids);
    expect(s.inputShape).toEqual([1, 3]);
    expect(s.outputShape).toEqual([1, 3, 11]);
    expect(summary(languageModel(), ids)).toMatch(/^\(input\)\s+\[1, 3\]$/m);
  });

  it("names a bad dtype, or one that contradicts the input tensor", () => {
    expect(() => summary(languageModel(), [2, 5], { dtype: "int64" as never })).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: 'summary: dtype must be "float32", "float64" or "int32", got int64',
      }),
    );
    const ids = tensor([[3, 1, 4]], { dtype: "int32" });
    expect(() => summary(languageModel(), ids, { dtype: "float32" })).toThrow(
      "summary: dtype float32 differs from the input tensor's int32; give one or the other",
    );
    // Without dtype the zeros are float32, which gather rejects as indices: the error names it.
    expect(() => summary(languageModel(), [2, 5])).toThrow(/indices/);
  });
});
