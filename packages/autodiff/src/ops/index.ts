export { add, sub, mul, div, maximum, minimum, reluBackward, where } from "./binary.js";
export { pow } from "./pow.js";
export { equal, notEqual, less, lessEqual, greater, greaterEqual } from "./compare.js";
export {
  neg,
  exp,
  log,
  log1p,
  sqrt,
  abs,
  sin,
  cos,
  tanh,
  sigmoid,
  relu,
  leakyRelu,
  softplus,
  square,
  reciprocal,
  sign,
  step,
  erf,
  gelu,
  geluBackward,
  clamp,
  type GeluAttrs,
  type ClampAttrs,
} from "./unary.js";
export {
  sum,
  mean,
  max,
  min,
  logSumExp,
  argmax,
  argmin,
  type ReduceAttrs,
  type ArgReduceAttrs,
} from "./reduce.js";
export { softmax, logSoftmax } from "./softmax.js";
export {
  scaledDotProductAttention,
  scaledDotProductAttentionBackward,
  type ScaledDotProductAttentionOptions,
  type AttentionDropoutOptions,
} from "./attention/attention.js";
export { cumsum, type CumsumAttrs } from "./cumsum.js";
export { reshape, expandDims, squeeze, flatten } from "./reshape.js";
export { broadcastTo } from "./broadcast.js";
export { cast } from "./cast.js";
export { variance, std, type MomentAttrs } from "./moments.js";
export { norm, type NormOptions } from "./norm.js";
export { tril, triu, type TriangleAttrs } from "./triangle.js";
export { split, chunk, type SplitOptions } from "./split.js";
export { transpose } from "./transpose.js";
export { concat, stack } from "./concat.js";
export { slice, pad, type Padding } from "./slice.js";
export { gather, scatterAdd, oneHot, type IndicesLike } from "./gather.js";
export { matmul, type MatmulAttrs } from "./matmul.js";
export { einsum } from "./einsum.js";
export {
  sort,
  topk,
  takeAlongAxis,
  scatterAddAlongAxis,
  type SortOptions,
  type TopkOptions,
} from "./sort.js";
export {
  maxPool2d,
  maxPool2dBackward,
  type MaxPool2dAttrs,
  type MaxPool2dBackwardAttrs,
} from "./maxPool2d.js";
export type { Pool2dAttrs } from "./pool2d.js";
export {
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool2d,
  adaptiveAvgPool2d,
  type AvgPool2dAttrs,
} from "./avgPool2d.js";
export {
  resize2d,
  resize2dBackward,
  type ResizeMode,
  type Resize2dAttrs,
  type Resize2dBackwardAttrs,
} from "./resize.js";
export { conv1d, type Conv1dOptions } from "./conv/conv1d.js";
export {
  conv2d,
  fusedConv2d,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  fusedConv2dBackward,
  fusedConv2dParamGrad,
  type Conv2dOptions,
  type FusedConv2dOptions,
  type Conv2dBackpropInputOptions,
  type Conv2dBackpropFilterOptions,
} from "./conv/conv2d.js";
export type { ConvActivation, Conv2dGeometryOptions } from "./conv/geometry.js";
export { convTranspose2d, type ConvTranspose2dOptions } from "./conv/convTranspose2d.js";
export {
  batchNorm,
  batchNormBackward,
  batchNormParamGrad,
  channelMoments,
  type BatchNormAttrs,
} from "./batchNorm.js";
export { layerNorm, layerNormBackward, type LayerNormAttrs } from "./layerNorm.js";
export { lstmCell, lstmCellBackward } from "./lstmCell.js";
export { gruCell, gruCellBackward } from "./gruCell.js";
export { adamUpdate, adamUpdateTuning, type AdamUpdateAttrs } from "./adamUpdate.js";
