/**
 * Test helpers: the gradient checker, fast-check arbitraries and the registry-wide op check.
 * Loads fast-check (an optional peer dependency); nothing else in tapegrad does.
 *
 * @module @tapegrad/autodiff/testing
 */
export {
  checkGrads,
  type CheckGradsOptions,
  type CheckGradsReport,
  type GradMode,
} from "./checkGrads.js";
export {
  GradientMismatchError,
  type GradientMismatch,
  type FaultyOp,
  type MismatchKind,
} from "./mismatch.js";
export type { CheckProgress } from "./progress.js";
export { arbitraries } from "./arbitraries.js";
export { checkOpGradients, differentiableOps, type CheckOpOptions } from "./checkOps.js";
export type { SampleKit, ShapeOptions, ValueOptions } from "../sampling.js";
export type { SampleArbitrary, FastCheckModule } from "../sampleTypes.js";
import "./fastCheckTypes.js";
