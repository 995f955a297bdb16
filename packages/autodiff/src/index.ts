import "./backends/js.js";

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
} from "./tensor.js";
export type { NestedArray, TensorLike, TensorOptions } from "./tensor.js";
export type { DType, FloatDType, TypedArray, FloatArray } from "./dtype.js";
export { TapegradError, type ErrorCode } from "./errors.js";
export { prng, Rng, type RngState } from "./random.js";
export {
  grad,
  valueAndGrad,
  vjp,
  stopGradient,
  type GradOptions,
  type ValueAndGradOptions,
} from "./transforms.js";
export { defineOp, listOps, getOp } from "./registry.js";
export type {
  Op,
  OpDefinition,
  OpSample,
  VjpContext,
  ForwardResult,
  RegisteredOp,
  AnyOpDefinition,
} from "./registry.js";
export type { SampleKit, ShapeOptions, ValueOptions } from "./sampling.js";
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
export { checkGrads, type CheckGradsOptions, type CheckGradsReport } from "./testing/checkGrads.js";
export * from "./ops/index.js";
