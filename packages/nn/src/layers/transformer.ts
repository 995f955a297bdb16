import { add, gelu, relu, type FloatDType, type Tensor } from "@tapegrad/autodiff";
import { applyChild, initChildren, subtree } from "../combinators/child.js";
import { defineLayer, type ApplyContext, type Layer } from "../layer.js";
import { multiHeadAttention } from "./attention.js";
import {
  argumentError,
  booleanOption,
  floatDType,
  numberIn,
  optionsObject,
  positiveInt,
  positiveNumber,
  show,
  type NoState,
} from "./check.js";
import { dropout } from "./dropout.js";
import { layerNorm } from "./layerNorm.js";
import { linear } from "./linear.js";

/** Options of transformerEncoderLayer, with PyTorch's defaults. */
export interface TransformerEncoderLayerOptions {
  /** d_model: the size of the last axis of the input and the output. */
  readonly dModel: number;
  /** Attention heads; must divide dModel. */
  readonly numHeads: number;
  /** Width of the feed-forward block (default 2048). */
  readonly dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block (default 0.1). */
  readonly dropout?: number;
  /** The feed-forward activation: "relu" (default) or "gelu" (exact, erf-based). */
  readonly activation?: "relu" | "gelu";
  /** Layer norm's eps (default 1e-5). */
  readonly layerNormEps?: number;
  /** [B, T, E] when true, else [T, B, E] as PyTorch's default (false). */
  readonly batchFirst?: boolean;
  /** Pre-norm (norm before each block, as most modern transformers) when true; default post-norm. */
  readonly normFirst?: boolean;
  /** Causal self-attention: each position sees itself and earlier ones (default false). */
  readonly causal?: boolean;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/**
 * One transformer encoder layer (PyTorch's nn.TransformerEncoderLayer): self-attention and a
 * feed-forward block (linear1 → activation → dropout → linear2), each with dropout, a residual
 * connection and layer norm — after the residual (post-norm) or before the block (normFirst).
 * Params are `{ self_attn, linear1, linear2, norm1, norm2 }` as PyTorch's state_dict names them;
 * `ctx.keyMask` hides padding keys.
 */
export function transformerEncoderLayer(options: TransformerEncoderLayerOptions): Layer {
  const where = "transformerEncoderLayer";
  optionsObject(where, options);
  const dModel = positiveInt(where, "dModel", options.dModel);
  const numHeads = positiveInt(where, "numHeads", options.numHeads);
  const hidden = positiveInt(where, "dimFeedforward", options.dimFeedforward ?? 2048);
  const rate = numberIn(where, "dropout", options.dropout ?? 0.1, 0, 1, true);
  const activation = options.activation ?? "relu";
  if (activation !== "relu" && activation !== "gelu") {
    throw argumentError(where, `activation must be "relu" or "gelu", got ${show(activation)}`);
  }
  const eps = positiveNumber(where, "layerNormEps", options.layerNormEps ?? 1e-5);
  const batchFirst = booleanOption(where, "batchFirst", options.batchFirst ?? false);
  const normFirst = booleanOption(where, "normFirst", options.normFirst ?? false);
  const causal = booleanOption(where, "causal", options.causal ?? false);
  const dtype = floatDType(where, options.dtype ?? "float32");

  const children: Record<string, Layer> = {
    self_attn: multiHeadAttention({
      embedDim: dModel,
      numHeads,
      dropout: rate,
      batchFirst,
      causal,
      dtype,
    }),
    linear1: linear({ inFeatures: dModel, outFeatures: hidden, dtype }),
    linear2: linear({ inFeatures: hidden, outFeatures: dModel, dtype }),
    norm1: layerNorm({ normalizedShape: dModel, eps, dtype }),
    norm2: layerNorm({ normalizedShape: dModel, eps, dtype }),
  };
  const drop = dropout(rate);
  const activate = activation === "relu" ? (x: Tensor) => relu(x) : (x: Tensor) => gelu(x);

  return defineLayer<Record<string, unknown>, NoState>({
    kind: where,
    children,
    init: (rng) => ({
      params: initChildren(rng, Object.entries(children), false).params as Record<string, unknown>,
      state: {},
    }),
    applyWithState: (params, state, x, ctx) => {
      const run = (name: string, input: Tensor) =>
        applyChild(name, children[name]!, subtree(params, name), {}, input, ctx)[0];
      const dropped = (input: Tensor) => drop.apply({}, input, ctx as ApplyContext);
      const attention = (input: Tensor) => dropped(run("self_attn", input));
      const feedForward = (input: Tensor) =>
        dropped(run("linear2", dropped(activate(run("linear1", input)))));
      if (normFirst) {
        const h = add(x, attention(run("norm1", x)));
        return [add(h, feedForward(run("norm2", h))), state];
      }
      const h = run("norm1", add(x, attention(x)));
      return [run("norm2", add(h, feedForward(h))), state];
    },
  });
}
