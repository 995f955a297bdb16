import { add, argumentError, equal, mul, sub, where, type Tensor } from "@tapegrad/autodiff";
import {
  checkLearningRate,
  checkOptions,
  checkNumber,
  factorFor,
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

/** Options of sgd, with PyTorch's defaults. */
export interface SgdOptions {
  /** Learning rate: a number, or a schedule of the step. */
  readonly lr: LearningRate;
  /** Momentum factor μ (default 0: plain gradient descent). */
  readonly momentum?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0, as in PyTorch). */
  readonly nesterov?: boolean;
  /** L2 penalty λ added to the gradient: g + λ·w. */
  readonly weightDecay?: number;
  /** Dampening τ of the momentum buffer (default 0). */
  readonly dampening?: number;
}

/** `momentumBuffer` is present only when momentum > 0. */
export interface SgdState {
  /** Updates applied so far. */
  readonly step: Step;
  /** The momentum buffer b, shaped like params. */
  readonly momentumBuffer?: Moments;
}

/**
 * Stochastic gradient descent as torch.optim.SGD: g ← g + λw; with momentum,
 * b ← g on the first step, else μb + (1 − τ)g, and d = g + μb (nesterov) or b; w ← w − lr·d.
 */
export function sgd(options: SgdOptions): Optimizer<SgdState> {
  checkOptions("sgd", options);
  const { lr, momentum = 0, nesterov = false, weightDecay = 0, dampening = 0 } = options;
  checkLearningRate("sgd", lr);
  checkNumber("sgd", "momentum", momentum, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("sgd", "weightDecay", weightDecay, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("sgd", "dampening", dampening, () => true, "a finite number");
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw argumentError(
      "sgd",
      `nesterov needs momentum > 0 and dampening 0, got momentum ${momentum} and dampening ` +
        `${dampening}`,
    );
  }
  return {
    init: (params) =>
      momentum === 0 ? { step: 0 } : { step: 0, momentumBuffer: zerosTree("sgd.init", params) },
    update: (grads, state, params) => {
      const step = readStep("sgd.update", state);
      const rate = learningRateAt("sgd.update", lr, step);
      const moments = momentum === 0 ? {} : { momentumBuffer: state.momentumBuffer };
      const [newParams, newMoments] = updateLeaves(
        "sgd.update",
        params,
        grads,
        moments,
        (w, g, m) => {
          const d = weightDecay === 0 ? g : add(g, mul(w, weightDecay));
          const factor = factorFor(rate, w);
          if (momentum === 0) return [sub(w, mul(d, factor)), {}];
          // PyTorch starts the buffer at the first gradient itself, without dampening.
          const later = add(mul(m.momentumBuffer!, momentum), mul(d, 1 - dampening));
          let b = later;
          if (typeof step === "number" && step === 0) b = d;
          if (typeof step !== "number") b = where(equal(step, 0), d, later);
          const direction: Tensor = nesterov ? add(d, mul(b, momentum)) : b;
          return [sub(w, mul(direction, factor)), { momentumBuffer: b }];
        },
      );
      return [newParams, { step: nextStep(step), ...newMoments }];
    },
  };
}
