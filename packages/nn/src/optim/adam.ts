import {
  adamUpdate,
  add,
  argumentError,
  cast,
  full,
  pow,
  stack,
  sub,
  tensor,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  checkLearningRate,
  checkOptions,
  checkNumber,
  learningRateAt,
  nextStep,
  readStep,
  updateLeaves,
  zerosTree,
  type LearningRate,
  type Moments,
  type Optimizer,
  type Step,
} from "./optimizer.js";

/** Options of adam and adamW, with PyTorch's defaults. */
export interface AdamOptions {
  /** Learning rate: a number, or a schedule of the step. */
  readonly lr: LearningRate;
  /** Decay rates (β₁, β₂) of the first and second moment estimates (default [0.9, 0.999]). */
  readonly betas?: readonly [number, number];
  /** Added to √v̂ in the denominator (default 1e-8). */
  readonly eps?: number;
  /** adam: L2 penalty added to the gradient (default 0); adamW: decoupled decay (default 0.01). */
  readonly weightDecay?: number;
}

/** The first (`expAvg`) and second (`expAvgSq`) moment estimates, as PyTorch names them. */
export interface AdamState {
  /** Updates applied so far. */
  readonly step: Step;
  /** m, the running mean of the gradients, shaped like params. */
  readonly expAvg: Moments;
  /** v, the running mean of the squared gradients, shaped like params. */
  readonly expAvgSq: Moments;
}

/**
 * Adam as torch.optim.Adam: g ← g + λw; m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
 * w ← w − lr·m̂/(√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) at update t = 1, 2, …
 */
export function adam(options: AdamOptions): Optimizer<AdamState> {
  return adamFamily("adam", options, false);
}

/**
 * AdamW as torch.optim.AdamW: Adam without L2 in the gradient; the weights decay directly,
 * w ← w·(1 − lr·λ), before the Adam step. weightDecay defaults to 0.01.
 */
export function adamW(options: AdamOptions): Optimizer<AdamState> {
  checkOptions("adamW", options);
  return adamFamily("adamW", { ...options, weightDecay: options.weightDecay ?? 0.01 }, true);
}

function adamFamily(name: string, options: AdamOptions, decoupled: boolean): Optimizer<AdamState> {
  checkOptions(name, options);
  const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0 } = options;
  checkLearningRate(name, lr);
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw argumentError(name, `betas must be a pair [β₁, β₂], got ${JSON.stringify(betas)}`);
  }
  const [beta1, beta2] = betas;
  const unit = (v: number) => v >= 0 && v < 1;
  checkNumber(name, "betas[0]", beta1, unit, "a number in [0, 1)");
  checkNumber(name, "betas[1]", beta2, unit, "a number in [0, 1)");
  checkNumber(name, "eps", eps, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber(name, "weightDecay", weightDecay, (v) => v >= 0, "a finite number ≥ 0");
  const fn = `${name}.update`;
  return {
    init: (params) => ({
      step: 0,
      expAvg: zerosTree(`${name}.init`, params),
      expAvgSq: zerosTree(`${name}.init`, params),
    }),
    update: (grads, state, params) => {
      const step = readStep(fn, state);
      const rate = learningRateAt(fn, lr, step);
      const hyper = stepValues(step, rate, beta1, beta2);
      const moments = { expAvg: state.expAvg, expAvgSq: state.expAvgSq };
      const settings = { beta1, beta2, eps, weightDecay, decoupled };
      const [newParams, newMoments] = updateLeaves(fn, params, grads, moments, (w, g, m) => {
        const [next, expAvg, expAvgSq] = adamUpdate(w, g, m.expAvg!, m.expAvgSq!, hyper, settings);
        return [next, { expAvg, expAvgSq }];
      });
      return [
        newParams,
        { step: nextStep(step), expAvg: newMoments.expAvg!, expAvgSq: newMoments.expAvgSq! },
      ];
    },
  };
}

/**
 * adamUpdate's [learning rate, 1 − β₁ᵗ, 1 − β₂ᵗ] for update t = step + 1: from numbers, or with
 * ops from a step tensor (the same float64 operations, so the same values).
 */
function stepValues(step: Step, rate: number | Tensor, beta1: number, beta2: number): Tensor {
  if (typeof step === "number" && typeof rate === "number") {
    const t = step + 1;
    return tensor([rate, 1 - beta1 ** t, 1 - beta2 ** t], { dtype: "float64" });
  }
  const t = add(cast(step as Tensor, "float64"), 1);
  const asScalar = (v: number | Tensor) => (typeof v === "number" ? full([], v, "float64") : v);
  return stack([asScalar(rate), sub(1, pow(beta1, t)), sub(1, pow(beta2, t))]);
}
