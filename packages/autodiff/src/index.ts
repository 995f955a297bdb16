/**
 * Reverse-mode automatic differentiation: immutable tensors, ops that each carry a vjp rule,
 * and the transforms `grad`, `valueAndGrad` and `vjp` over trees of tensors. Also the op
 * registry (`defineOp`), random generators (`prng`), tree utilities and the kernel backends.
 * No Node built-ins: it runs in browsers too.
 *
 * @module @tapegrad/autodiff
 */
import "./backends/js.js";
export { setWasmThreads, wasmThreads, wasmAvailable, wasmVariant } from "./backends/wasm/index.js";
export type { ModuleVariant } from "./backends/wasm/index.js";

export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  arange,
  eye,
  zerosLike,
  onesLike,
  isTensor,
  isAbstract,
} from "./tensor.js";
export type { NestedArray, TensorLike, TensorOptions } from "./tensor.js";
export type { DType, FloatDType, TypedArray, FloatArray } from "./dtype.js";
export {
  TapegradError,
  argumentError,
  dtypeError,
  shapeError,
  show,
  showShape,
  type ErrorCode,
} from "./errors.js";
export type { Pair, Padding } from "./ops/window.js";
export {
  detectAnomaly,
  isDetectingAnomaly,
  NonFiniteError,
  type AnomalyPhase,
  type NonFiniteDetails,
} from "./anomaly.js";
export { prng, Rng, type RngState } from "./random.js";
export {
  randomKey,
  splitKey,
  foldIn,
  randomUniform,
  randomNormal,
  randomBernoulli,
  type RandomUniformOptions,
  type RandomNormalOptions,
  type RandomBernoulliOptions,
} from "./randomKeys.js";
export { categorical, type CategoricalOptions } from "./randomCategorical.js";
export {
  grad,
  valueAndGrad,
  vjp,
  stopGradient,
  type GradOptions,
  type ValueAndGradOptions,
} from "./transforms.js";
export { isTracing, type Applied } from "./tape.js";
export {
  jvp,
  linearize,
  hvp,
  jacrev,
  jacfwd,
  hessian,
  type JacobianOptions,
  type Jacobian,
  type TensorTree,
} from "./forward.js";
export { vmap, batchFallbackOps, type VmapOptions, type AxisSpec } from "./vmap.js";
export { customVjp, type CustomVjpRules } from "./customVjp.js";
export { customJvp, type CustomJvpRules } from "./customJvp.js";
export { checkpoint, type CheckpointOptions } from "./checkpoint.js";
export { jit, type Jitted, type JitOptions } from "./jit/jit.js";
export type { Program, Equation, ValueType } from "./jit/program.js";
export { jitTuning } from "./jit/fusion.js";
export { profileTape, type TapeProfile } from "./tapeProfile.js";
export { recordOps, type RecordedOp, type Recording, type RecordOpsOptions } from "./recordOps.js";
export { defineOp, listOps, getOp } from "./registry.js";
export type {
  Op,
  OpDefinition,
  OpSample,
  VjpContext,
  BatchContext,
  BatchResult,
  BatchedResiduals,
  SingleOutput,
  OpOutputs,
  ForwardResult,
  RegisteredOp,
  AnyOpDefinition,
} from "./registry.js";
export type { SampleKit, ShapeOptions, ValueOptions } from "./sampling.js";
export type { SampleArbitrary, FastCheckModule } from "./sampleTypes.js";
export { treeMap, treeLeaves, treeFlatten, treeUnflatten, isContainer, type Tree } from "./tree.js";
export {
  registerBackend,
  setBackend,
  getBackend,
  listBackends,
  kernels,
  type Backend,
  type Kernels,
} from "./backends/backend.js";
export type { AdamStep } from "./kernels/optim.js";
export {
  checkGrads,
  type CheckGradsOptions,
  type CheckGradsReport,
  type GradMode,
} from "./testing/checkGrads.js";
export {
  GradientMismatchError,
  type GradientMismatch,
  type FaultyOp,
  type MismatchKind,
} from "./testing/mismatch.js";
export type { CheckProgress } from "./testing/progress.js";
export * from "./ops/index.js";
