import { DECAY_COUPLED, DECAY_DECOUPLED, DECAY_NONE } from "./adamDecay.js";

/** One Adam or AdamW step's settings, with the bias corrections of its step number. */
export interface AdamStep {
  /** The learning rate at this step. */
  readonly rate: number;
  /** Decay rate of the first moment estimate. */
  readonly beta1: number;
  /** Decay rate of the second moment estimate. */
  readonly beta2: number;
  /** Added to √v̂ in the denominator. */
  readonly eps: number;
  /** L2 penalty (Adam) or decoupled decay rate (AdamW); 0 for none. */
  readonly weightDecay: number;
  /** AdamW: decay the weights directly (true) rather than adding weightDecay·w to the gradient. */
  readonly decoupled: boolean;
  /** 1 − β₁ᵗ at update t = 1, 2, … */
  readonly correction1: number;
  /** 1 − β₂ᵗ at update t. */
  readonly correction2: number;
}

export interface OptimKernels {
  /**
   * One Adam/AdamW step over float32 leaves of one size: writes the new weights and moments.
   * Rounds to float32 exactly where the ops of the same formula (nn's adam) round, so the
   * results equal theirs bit for bit.
   */
  adamF32(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    step: AdamStep,
    next: Float32Array,
    expAvg: Float32Array,
    expAvgSq: Float32Array,
  ): void;
}

/** How weight decay enters: not at all, on the weights (AdamW) or on the gradient (Adam). */
export const DECAY = {
  none: DECAY_NONE,
  decoupled: DECAY_DECOUPLED,
  coupled: DECAY_COUPLED,
} as const;

/**
 * The per-step float32 constants both backends' loops use, each rounded where an op would
 * convert it: PyTorch's arrangement (√v/√(1 − β₂ᵗ) + ε) and lr/(1 − β₁ᵗ).
 */
export function adamCoefficients(step: AdamStep) {
  const f = Math.fround;
  const mode =
    step.weightDecay === 0 ? DECAY.none : step.decoupled ? DECAY.decoupled : DECAY.coupled;
  return {
    mode,
    decay: f(1 - step.rate * step.weightDecay),
    l2: f(step.weightDecay),
    b1: f(step.beta1),
    b1c: f(1 - step.beta1),
    b2: f(step.beta2),
    b2c: f(1 - step.beta2),
    root2: f(Math.sqrt(step.correction2)),
    eps: f(step.eps),
    scale: f(step.rate / step.correction1),
  };
}

const adamF32: OptimKernels["adamF32"] = (w, g, m, v, step, next, expAvg, expAvgSq) => {
  const f = Math.fround;
  const { mode, decay, l2, b1, b1c, b2, b2c, root2, eps, scale } = adamCoefficients(step);
  const decoupled = mode === DECAY.decoupled;
  const coupled = mode === DECAY.coupled;
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    const decayed = decoupled ? f(wi * decay) : wi;
    const d = coupled ? f(g[i]! + f(wi * l2)) : g[i]!;
    const mi = f(f(m[i]! * b1) + f(d * b1c));
    const vi = f(f(v[i]! * b2) + f(f(d * d) * b2c));
    const denom = f(f(f(Math.sqrt(vi)) / root2) + eps);
    next[i] = decayed - f(f(mi / denom) * scale);
    expAvg[i] = mi;
    expAvgSq[i] = vi;
  }
};

export const jsOptimKernels: OptimKernels = { adamF32 };
