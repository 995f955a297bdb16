import {
  dtypeError,
  expandDims,
  gather,
  isAbstract,
  notEqual,
  tensor,
  where as whereOp,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import { normal, type Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import {
  argumentError,
  drawParam,
  floatDType,
  initializerOption,
  optionsObject,
  paramOf,
  positiveInt,
  show,
  type NoState,
} from "./check.js";

/** Options of the embedding layer, as torch.nn.Embedding. */
export interface EmbeddingOptions {
  /** V, the vocabulary size: indices lie in 0…V−1. */
  readonly numEmbeddings: number;
  /** D, the size of each embedding vector. */
  readonly embeddingDim: number;
  /**
   * The index (in −V…V−1, negatives count from the end) whose row is initialised to zeros and
   * never receives a gradient, as PyTorch's padding_idx; it embeds as zeros even if a loaded
   * table has that row non-zero (PyTorch would return the row). Default: none.
   */
  readonly paddingIdx?: number;
  /** Default: N(0, 1), as PyTorch; the paddingIdx row is then set to zeros. */
  readonly weightInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** An embedding's params: the lookup table, as PyTorch names and lays it out. */
export interface EmbeddingParams {
  /** The table, [V, D]: row v is the embedding of index v. */
  readonly weight: Tensor;
}

/**
 * Lookup table (torch.nn.Embedding): int32 indices of any shape [...] → weight rows [..., D].
 * Gradient: gather's, the rows of dy added into the rows of weight that were looked up; the
 * paddingIdx row is masked out of the output, so it gets none.
 */
export function embedding(options: EmbeddingOptions): Layer<EmbeddingParams, NoState> {
  const where = "embedding";
  optionsObject(where, options);
  const numEmbeddings = positiveInt(where, "numEmbeddings", options.numEmbeddings);
  const embeddingDim = positiveInt(where, "embeddingDim", options.embeddingDim);
  const paddingIdx = resolvePaddingIdx(where, options.paddingIdx, numEmbeddings);
  const dtype = floatDType(where, options.dtype ?? "float32");
  initializerOption(where, "weightInit", options.weightInit);
  const weightInit = options.weightInit ?? normal();
  const weightShape = [numEmbeddings, embeddingDim];

  return defineLayer<EmbeddingParams, NoState>({
    kind: where,
    init: (rng) => {
      const drawn = drawParam(where, "weight", weightInit, rng, weightShape, dtype);
      if (paddingIdx === undefined) return { params: { weight: drawn }, state: {} };
      const values = drawn.data;
      values.fill(0, paddingIdx * embeddingDim, (paddingIdx + 1) * embeddingDim);
      return { params: { weight: tensor(values, { shape: weightShape }) }, state: {} };
    },
    applyWithState: (params, state, indices) => {
      checkIndices(where, indices, numEmbeddings);
      const weight = paramOf(where, params, "weight", weightShape);
      const rows = gather(weight, indices, 0);
      if (paddingIdx === undefined) return [rows, state];
      // Zeros in place of the padding row make the row unused, so the tape gives it a zero
      // gradient, as PyTorch does; the output is the same as PyTorch's while the row is zeros.
      const keep = expandDims(notEqual(indices, paddingIdx), -1);
      return [whereOp(keep, rows, 0), state];
    },
  });
}

function resolvePaddingIdx(where: string, value: unknown, n: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < -n || value >= n) {
    throw argumentError(
      where,
      `paddingIdx must be an integer in ${-n}…${n - 1} (numEmbeddings ${n}), got ${show(value)}`,
    );
  }
  return value < 0 ? value + n : value;
}

/**
 * Checks the indices here rather than leaving it to gather, which would accept negatives (they
 * count from the end there, but PyTorch's embedding rejects them) and would not name the layer.
 */
function checkIndices(where: string, indices: Tensor, n: number): void {
  if (indices.dtype !== "int32") {
    throw dtypeError(where, `indices must be an int32 tensor, got ${indices.dtype}`);
  }
  // Inside vmap or jit the values cannot be read; gather still rejects indices beyond −n…n−1.
  if (isAbstract(indices)) return;
  const values = indices.data;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= n) {
      throw argumentError(
        where,
        `index ${v} is out of range for a vocabulary of ${n} embeddings; expected 0 ≤ index < ${n}`,
      );
    }
  }
}
