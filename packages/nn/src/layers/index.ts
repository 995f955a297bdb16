export { linear, type LinearOptions, type LinearParams } from "./linear.js";
export {
  conv2d,
  convTranspose2d,
  type Conv2dLayerOptions,
  type ConvTranspose2dLayerOptions,
  type ConvParams,
} from "./conv.js";
export { maxPool2d, avgPool2d, globalAvgPool2d } from "./pool.js";
export { flatten } from "./flatten.js";
export { dropout } from "./dropout.js";
export {
  batchNorm1d,
  batchNorm2d,
  type BatchNormOptions,
  type BatchNormParams,
  type BatchNormState,
} from "./batchNorm.js";
export { layerNorm, type LayerNormOptions, type LayerNormParams } from "./layerNorm.js";
export { relu, leakyRelu, sigmoid, tanh, gelu, softmax, logSoftmax } from "./activations.js";
export type { Pair, ConvPadding, NoState } from "./check.js";
export { embedding, type EmbeddingOptions, type EmbeddingParams } from "./embedding.js";
export { rmsNorm, type RmsNormOptions, type RmsNormParams } from "./rmsNorm.js";
export {
  sinusoidalPositionalEncoding,
  learnedPositionalEmbedding,
  sinusoidalTable,
  type PositionalOptions,
  type LearnedPositionalOptions,
  type LearnedPositionalParams,
} from "./positional.js";
export { conv1d, type Conv1dLayerOptions, type Conv1dParams } from "./conv1d.js";
export {
  lstm,
  gru,
  type RecurrentOptions,
  type RecurrentParams,
  type RecurrentLayer,
  type LstmState,
  type LstmResult,
  type GruState,
  type GruResult,
} from "./recurrent.js";
export {
  multiHeadAttention,
  type MultiHeadAttentionOptions,
  type MultiHeadAttentionParams,
} from "./attention.js";
export { transformerEncoderLayer, type TransformerEncoderLayerOptions } from "./transformer.js";
