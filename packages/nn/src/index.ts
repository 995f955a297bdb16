/**
 * Functional neural networks: layers as `{ init, apply, applyWithState }` over plain param
 * trees, the combinators `sequential`, `residual` and `parallel`, losses, metrics, initializers
 * (`init`), optimizers and schedules (`optim`) and safetensors encoding. No Node built-ins.
 *
 * @module @tapegrad/nn
 */
export {
  defineLayer,
  statelessLayer,
  type Layer,
  type LayerSpec,
  type ApplyContext,
  type Variables,
  type Params,
  type State,
} from "./layer.js";
export {
  treeMap,
  treeLeaves,
  treeFlatten,
  treeUnflatten,
  paramCount,
  loadInto,
  type LoadIntoOptions,
  type Tree,
} from "./tree.js";
export { encodeSafetensors, decodeSafetensors, type Checkpoint } from "./safetensors.js";
export * from "./layers/index.js";
export * from "./combinators/index.js";
export * as init from "./init.js";
export type { Initializer, Nonlinearity, FanMode } from "./init.js";
export {
  summary,
  summarize,
  type SummaryOptions,
  type SummaryRow,
  type ModelSummary,
} from "./summary.js";
export {
  crossEntropy,
  nllLoss,
  binaryCrossEntropyWithLogits,
  mse,
  type Reduction,
  type ReductionOptions,
  type CrossEntropyOptions,
  type NllLossOptions,
  type BinaryCrossEntropyOptions,
  type MseOptions,
} from "./losses.js";
export { accuracy, confusionMatrix, formatConfusionMatrix } from "./metrics.js";
export * as optim from "./optim/index.js";
