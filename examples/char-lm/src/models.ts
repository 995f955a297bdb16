// The two next-character models, both maps from int32 ids [B, T] to logits [B, T, V], where the
// logits at t score the character after ids[:, t] given ids[:, 0…t] and nothing later.
import { argumentError, type FloatDType } from "@tapegrad/autodiff";
import {
  embedding,
  init,
  layerNorm,
  learnedPositionalEmbedding,
  linear,
  lstm,
  sequential,
  transformerEncoderLayer,
  type Layer,
} from "@tapegrad/nn";

/** A next-character model: a layer from ids [B, T] to logits [B, T, V], and its longest input. */
export interface CharModel {
  readonly kind: "gpt" | "lstm";
  readonly layer: Layer;
  /** The longest input it reads (the GPT's position table), and so the longest word sampled. */
  readonly context: number;
  /** V, the number of tokens. */
  readonly vocabSize: number;
}

/** Options of the GPT; the defaults are the sizes the README's run used. */
export interface GptOptions {
  readonly vocabSize: number;
  /** Positions in the learned table: the longest input (default 32). */
  readonly context?: number;
  /** Width of the residual stream (default 64). */
  readonly dModel?: number;
  /** Attention heads per block (default 4). */
  readonly numHeads?: number;
  /** Transformer blocks (default 2). */
  readonly numLayers?: number;
  /** Width of each block's feed-forward layer (default 4·dModel). */
  readonly dimFeedforward?: number;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/**
 * A GPT (Radford et al. 2019, at toy size): token embedding plus learned positions, numLayers
 * pre-norm blocks of causal self-attention and a GELU feed-forward layer, a final layer norm and
 * a linear head. Embeddings start at N(0, 0.02²), as GPT-2's.
 */
export function gpt(options: GptOptions): CharModel {
  const { vocabSize, context = 32, dModel = 64, numHeads = 4, numLayers = 2 } = options;
  const { dimFeedforward = 4 * dModel, dtype = "float32" } = options;
  positive("gpt", { vocabSize, context, numLayers });
  const blocks = Array.from({ length: numLayers }, () =>
    transformerEncoderLayer({
      dModel,
      numHeads,
      dimFeedforward,
      dropout: 0,
      activation: "gelu",
      batchFirst: true,
      normFirst: true,
      causal: true,
      dtype,
    }),
  );
  const layer = sequential({
    tokens: embedding({
      numEmbeddings: vocabSize,
      embeddingDim: dModel,
      weightInit: init.normal({ std: 0.02 }),
      dtype,
    }),
    positions: learnedPositionalEmbedding({ maxLength: context, dim: dModel, dtype }),
    blocks: sequential(blocks),
    norm: layerNorm({ normalizedShape: dModel, dtype }),
    head: linear({ inFeatures: dModel, outFeatures: vocabSize, dtype }),
  });
  return { kind: "gpt", layer, context, vocabSize };
}

/** Options of the LSTM model; the defaults are the sizes the README's run used. */
export interface LstmModelOptions {
  readonly vocabSize: number;
  /** The longest word sampled (default 32); training and evaluation take any length. */
  readonly context?: number;
  /** Width of the token embedding (default 32). */
  readonly embeddingDim?: number;
  /** Width of the hidden state (default 128). */
  readonly hiddenSize?: number;
  /** Stacked LSTM layers (default 1). */
  readonly numLayers?: number;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/**
 * Token embedding → LSTM (batch first) → linear head on each step's hidden state: the
 * recurrent state carries everything read so far, so no position table is needed.
 */
export function lstmModel(options: LstmModelOptions): CharModel {
  const { vocabSize, context = 32, embeddingDim = 32, hiddenSize = 128, numLayers = 1 } = options;
  const { dtype = "float32" } = options;
  positive("lstmModel", { vocabSize, context });
  const layer = sequential({
    tokens: embedding({ numEmbeddings: vocabSize, embeddingDim, dtype }),
    lstm: lstm({ inputSize: embeddingDim, hiddenSize, numLayers, batchFirst: true, dtype }),
    head: linear({ inFeatures: hiddenSize, outFeatures: vocabSize, dtype }),
  });
  return { kind: "lstm", layer, context, vocabSize };
}

/** Rejects sizes the layers would not name the model for (the layers check the rest). */
function positive(fn: string, sizes: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(sizes)) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw argumentError(fn, `${name} must be a positive integer, got ${String(value)}`);
    }
  }
}
