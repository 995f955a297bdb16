export {
  chain,
  type Optimizer,
  type GradientTransform,
  type LearningRate,
  type Schedule,
  type Step,
  type Moments,
} from "./optimizer.js";
export { sgd, type SgdOptions, type SgdState } from "./sgd.js";
export { adam, adamW, type AdamOptions, type AdamState } from "./adam.js";
export { rmsprop, type RmspropOptions, type RmspropState } from "./rmsprop.js";
export {
  constant,
  stepDecay,
  cosineDecay,
  linearWarmup,
  joinSchedules,
  type StepDecayOptions,
  type CosineDecayOptions,
  type LinearWarmupOptions,
} from "./schedule.js";
export { clipByGlobalNorm, clipGradients } from "./clip.js";
