import { add, div, mul, sqrt, square, sub } from "@tapegrad/autodiff";
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
  type LeafMoments,
  type Moments,
  type Optimizer,
  type Step,
} from "./optimizer.js";

/** Options of rmsprop, with PyTorch's defaults. */
export interface RmspropOptions {
  /** Learning rate: a number, or a schedule of the step. */
  readonly lr: LearningRate;
  /** Decay rate α of the squared-gradient average (default 0.99). */
  readonly alpha?: number;
  /** Added to the root of the average (default 1e-8). */
  readonly eps?: number;
  /** Momentum factor μ (default 0). */
  readonly momentum?: number;
  /** Normalise by the estimated variance v − ḡ² instead of v (default false). */
  readonly centered?: boolean;
  /** L2 penalty λ added to the gradient (default 0). */
  readonly weightDecay?: number;
}

/** `momentumBuffer` exists when momentum > 0, `gradAvg` when centered. */
export interface RmspropState {
  /** Updates applied so far. */
  readonly step: Step;
  /** v, the running mean of the squared gradients. */
  readonly squareAvg: Moments;
  /** The momentum buffer b (with momentum > 0). */
  readonly momentumBuffer?: Moments;
  /** ḡ, the running mean of the gradients (centered only). */
  readonly gradAvg?: Moments;
}

/**
 * RMSprop as torch.optim.RMSprop: g ← g + λw; v ← αv + (1 − α)g²; centered: ḡ ← αḡ + (1 − α)g,
 * v' = v − ḡ²; a = √v' + ε; with momentum b ← μb + g/a, w ← w − lr·b; else w ← w − lr·g/a.
 */
export function rmsprop(options: RmspropOptions): Optimizer<RmspropState> {
  checkOptions("rmsprop", options);
  const { lr, alpha = 0.99, eps = 1e-8, momentum = 0, centered = false, weightDecay = 0 } = options;
  checkLearningRate("rmsprop", lr);
  checkNumber("rmsprop", "alpha", alpha, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("rmsprop", "eps", eps, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("rmsprop", "momentum", momentum, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("rmsprop", "weightDecay", weightDecay, (v) => v >= 0, "a finite number ≥ 0");
  const fn = "rmsprop.update";
  return {
    init: (params) => {
      const zeros = () => zerosTree("rmsprop.init", params);
      return {
        step: 0,
        squareAvg: zeros(),
        ...(momentum > 0 ? { momentumBuffer: zeros() } : {}),
        ...(centered ? { gradAvg: zeros() } : {}),
      };
    },
    update: (grads, state, params) => {
      const step = readStep(fn, state);
      const rate = learningRateAt(fn, lr, step);
      const moments: Record<string, unknown> = { squareAvg: state.squareAvg };
      if (momentum > 0) moments.momentumBuffer = state.momentumBuffer;
      if (centered) moments.gradAvg = state.gradAvg;
      const [newParams, newMoments] = updateLeaves(fn, params, grads, moments, (w, g, m) => {
        const d = weightDecay === 0 ? g : add(g, mul(w, weightDecay));
        const out: LeafMoments = {};
        out.squareAvg = add(mul(m.squareAvg!, alpha), mul(square(d), 1 - alpha));
        let variance = out.squareAvg;
        if (centered) {
          out.gradAvg = add(mul(m.gradAvg!, alpha), mul(d, 1 - alpha));
          variance = sub(variance, square(out.gradAvg));
        }
        const avg = add(sqrt(variance), eps);
        const factor = factorFor(rate, w);
        if (momentum === 0) return [sub(w, mul(div(d, avg), factor)), out];
        out.momentumBuffer = add(mul(m.momentumBuffer!, momentum), div(d, avg));
        return [sub(w, mul(out.momentumBuffer, factor)), out];
      });
      return [newParams, { step: nextStep(step), ...newMoments } as RmspropState];
    },
  };
}
