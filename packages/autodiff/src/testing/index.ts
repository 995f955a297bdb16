/** Test helpers: the gradient checker, fast-check arbitraries and the registry-wide op check. */
export { checkGrads, type CheckGradsOptions, type CheckGradsReport } from "./checkGrads.js";
export { arbitraries } from "./arbitraries.js";
export { checkOpGradients, differentiableOps, type CheckOpOptions } from "./checkOps.js";
export type { SampleKit, ShapeOptions, ValueOptions } from "../sampling.js";
