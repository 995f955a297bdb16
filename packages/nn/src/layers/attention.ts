import {
  add,
  cast,
  matmul,
  randomKey,
  Rng,
  reshape,
  scaledDotProductAttention,
  slice,
  transpose,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import { defaultWeightInit, xavierUniform, zeros } from "../init.js";
import { defineLayer, type ApplyContext, type Layer } from "../layer.js";
import type { LinearParams } from "./linear.js";
import {
  argumentError,
  booleanOption,
  drawParam,
  floatDType,
  numberIn,
  optionsObject,
  paramOf,
  positiveInt,
  shapeError,
  show,
  showShape,
  stateError,
  type NoState,
} from "./check.js";

/** Options of multiHeadAttention, with PyTorch's defaults. */
export interface MultiHeadAttentionOptions {
  /** E, the size of the last axis of the input and the output. */
  readonly embedDim: number;
  /** Heads; must divide embedDim (each head attends in embedDim/numHeads dimensions). */
  readonly numHeads: number;
  /** Learn the input and output projections' biases (default true). */
  readonly bias?: boolean;
  /** Dropout on the attention weights in training mode (default 0). */
  readonly dropout?: number;
  /** Input and output [B, T, E] when true, else [T, B, E] as PyTorch's default (false). */
  readonly batchFirst?: boolean;
  /** Each position attends only to itself and earlier ones (default false). */
  readonly causal?: boolean;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** multiHeadAttention's params, named as PyTorch's nn.MultiheadAttention state_dict. */
export interface MultiHeadAttentionParams {
  /** The query, key and value projections packed: [3E, E], rows q then k then v. */
  readonly in_proj_weight: Tensor;
  /** [3E]; absent without bias. */
  readonly in_proj_bias?: Tensor;
  /** The output projection, a linear layer's params: weight [E, E], bias [E]. */
  readonly out_proj: LinearParams;
}

/**
 * Multi-head self-attention (PyTorch's nn.MultiheadAttention with query = key = value):
 * q, k, v = x·Wᵀ + b split from the packed in_proj, each head attends with
 * scaledDotProductAttention, and the heads' outputs, concatenated, go through out_proj.
 * `ctx.keyMask` (1 = real token) hides padding keys; `causal` hides later positions. Params
 * load from a PyTorch state_dict by name.
 */
export function multiHeadAttention(
  options: MultiHeadAttentionOptions,
): Layer<MultiHeadAttentionParams, NoState> {
  const where = "multiHeadAttention";
  optionsObject(where, options);
  const embedDim = positiveInt(where, "embedDim", options.embedDim);
  const numHeads = positiveInt(where, "numHeads", options.numHeads);
  if (embedDim % numHeads !== 0) {
    throw argumentError(
      where,
      `numHeads must divide embedDim, got embedDim ${embedDim} and numHeads ${numHeads}`,
    );
  }
  const hasBias = booleanOption(where, "bias", options.bias ?? true);
  const rate = numberIn(where, "dropout", options.dropout ?? 0, 0, 1, true);
  const batchFirst = booleanOption(where, "batchFirst", options.batchFirst ?? false);
  const causal = booleanOption(where, "causal", options.causal ?? false);
  const dtype = floatDType(where, options.dtype ?? "float32");
  const headDim = embedDim / numHeads;
  const E = embedDim;

  return defineLayer<MultiHeadAttentionParams, NoState>({
    kind: where,
    // PyTorch's _reset_parameters: xavier_uniform in_proj, zero biases, out_proj as a Linear.
    init: (rng) => {
      const inProj = drawParam(where, "in_proj_weight", xavierUniform(), rng, [3 * E, E], dtype);
      const outWeight = drawParam(where, "out_proj.weight", defaultWeightInit, rng, [E, E], dtype);
      if (!hasBias) {
        return { params: { in_proj_weight: inProj, out_proj: { weight: outWeight } }, state: {} };
      }
      const zero = (shape: number[]) => zeros()(rng, shape, dtype);
      return {
        params: {
          in_proj_weight: inProj,
          in_proj_bias: zero([3 * E]),
          out_proj: { weight: outWeight, bias: zero([E]) },
        },
        state: {},
      };
    },
    applyWithState: (params, state, x, ctx) => {
      if (x.ndim !== 3 || x.shape[2] !== E) {
        const layout = batchFirst ? "[B, T, E]" : "[T, B, E]";
        throw shapeError(
          where,
          `x must be ${layout} with E = ${E}, got shape ${showShape(x.shape)}`,
        );
      }
      const input = batchFirst ? x : transpose(x, [1, 0, 2]);
      const [batch, length] = input.shape as [number, number, number];
      const inWeight = paramOf(where, params, "in_proj_weight", [3 * E, E]);
      let qkv = matmul(input, inWeight, { transB: true });
      if (hasBias) qkv = add(qkv, paramOf(where, params, "in_proj_bias", [3 * E]));
      // [B, T, 3E] → three [B, H, T, Dh]: the packed rows are q, k, v, each split into heads.
      const heads = (part: number) =>
        transpose(
          reshape(slice(qkv, [0, 0, part * E], [batch, length, (part + 1) * E]), [
            batch,
            length,
            numHeads,
            headDim,
          ]),
          [0, 2, 1, 3],
        );
      const attended = scaledDotProductAttention(heads(0), heads(1), heads(2), {
        mask: keyMask(where, ctx, batch, length),
        causal,
        dropout: attentionDropout(where, rate, ctx),
      });
      const merged = reshape(transpose(attended, [0, 2, 1, 3]), [batch, length, E]);
      const outProj = (params as { out_proj?: unknown }).out_proj;
      let y = matmul(merged, paramOf(`${where} out_proj`, outProj, "weight", [E, E]), {
        transB: true,
      });
      if (hasBias) y = add(y, paramOf(`${where} out_proj`, outProj, "bias", [E]));
      return [batchFirst ? y : transpose(y, [1, 0, 2]), state];
    },
  });
}

/** ctx.keyMask as [B, 1, 1, S] int32 for the attention op, after checking its shape. */
function keyMask(
  where: string,
  ctx: ApplyContext,
  batch: number,
  length: number,
): Tensor | undefined {
  const mask = ctx.keyMask;
  if (mask === undefined) return undefined;
  const ok =
    (mask.ndim === 2 && mask.shape[0] === batch && mask.shape[1] === length) ||
    (mask.ndim === 1 && mask.shape[0] === length);
  if (!ok) {
    throw shapeError(
      where,
      `ctx.keyMask must be [B, S] = [${batch}, ${length}] (or [${length}]), ` +
        `got shape ${showShape(mask.shape)}`,
    );
  }
  const asInt = mask.dtype === "int32" ? mask : cast(mask, "int32");
  return reshape(asInt, mask.ndim === 2 ? [batch, 1, 1, length] : [1, 1, 1, length]);
}

/** The attention op's dropout settings in training mode: a key split from ctx.rng. */
function attentionDropout(where: string, rate: number, ctx: ApplyContext) {
  if (!ctx.training || rate === 0) return undefined;
  if (!(ctx.rng instanceof Rng)) {
    throw stateError(
      where,
      `dropout in training mode needs ctx.rng (prng(seed)), got ${show(ctx.rng)}; ` +
        "pass { training: true, rng }",
    );
  }
  return { rate, key: randomKey(ctx.rng.nextWord()) };
}
