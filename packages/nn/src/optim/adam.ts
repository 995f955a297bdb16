import {
  add,
  div,
  isTracing,
  mul,
  sqrt,
  square,
  sub,
  tensor,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  checkLearningRate,
  checkOptions,
  checkNumber,
  invalid,
  learningRateAt,
  readStep,
  updateLeaves,
  zerosTree,
  type LearningRate,
  type Moments,
  type Optimizer,
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
  readonly step: number;
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
    throw invalid(name, `betas must be a pair [β₁, β₂], got ${JSON.stringify(betas)}`);
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
      const t = step + 1;
      const correction1 = 1 - beta1 ** t;
      const correction2 = 1 - beta2 ** t;
      const moments = { expAvg: state.expAvg, expAvgSq: state.expAvgSq };
      const constants = {
        rate,
        beta1,
        beta2,
        eps,
        weightDecay,
        decoupled,
        correction1,
        correction2,
      };
      const [newParams, newMoments] = updateLeaves(fn, params, grads, moments, (w, g, m) => {
        if (canFuse(w, g, m.expAvg!, m.expAvgSq!)) {
          return fusedAdam(w, g, m.expAvg!, m.expAvgSq!, constants);
        }
        let decayed = w;
        let d = g;
        if (weightDecay !== 0 && decoupled) decayed = mul(w, 1 - rate * weightDecay);
        if (weightDecay !== 0 && !decoupled) d = add(g, mul(w, weightDecay));
        const expAvg = add(mul(m.expAvg!, beta1), mul(d, 1 - beta1));
        const expAvgSq = add(mul(m.expAvgSq!, beta2), mul(square(d), 1 - beta2));
        // PyTorch's arrangement of the same formula: (√v/√(1 − β₂ᵗ) + ε) and lr/(1 − β₁ᵗ).
        const denom = add(div(sqrt(expAvgSq), Math.sqrt(correction2)), eps);
        const next = sub(decayed, mul(div(expAvg, denom), rate / correction1));
        return [next, { expAvg, expAvgSq }];
      });
      return [newParams, { step: t, expAvg: newMoments.expAvg!, expAvgSq: newMoments.expAvgSq! }];
    },
  };
}

/** @internal Tests turn the fused path off to compare it with the ops it reproduces. */
export const adamTuning = { fused: true };

interface AdamConstants {
  readonly rate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  readonly correction1: number;
  readonly correction2: number;
}

/**
 * Whether one leaf may take the fused loop: no transform is tracing (so nothing needs the ops
 * on a tape) and the four tensors share one float dtype.
 */
function canFuse(...tensors: Tensor[]): boolean {
  const dtype = tensors[0]!.dtype;
  return (
    adamTuning.fused &&
    !isTracing() &&
    dtype !== "int32" &&
    tensors.every((t) => t.dtype === dtype && t.size === tensors[0]!.size)
  );
}

/**
 * The update the ops above compute, in one pass per leaf instead of a dozen ops: each step is
 * rounded to the leaf's dtype exactly where an op would round its result (and each constant
 * where an op would convert it), so the two paths give the same bits (adam.test checks this).
 */
function fusedAdam(
  w: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  k: AdamConstants,
): [Tensor, { expAvg: Tensor; expAvgSq: Tensor }] {
  const r = w.dtype === "float32" ? Math.fround : (x: number) => x;
  const Ctor = w.dtype === "float32" ? Float32Array : Float64Array;
  const [wd, gd, md, vd] = [w.data, g.data, m.data, v.data];
  const n = wd.length;
  const next = new Ctor(n);
  const expAvg = new Ctor(n);
  const expAvgSq = new Ctor(n);
  const decay = r(1 - k.rate * k.weightDecay);
  const l2 = r(k.weightDecay);
  const [b1, b1c, b2, b2c] = [r(k.beta1), r(1 - k.beta1), r(k.beta2), r(1 - k.beta2)];
  const root2 = r(Math.sqrt(k.correction2));
  const eps = r(k.eps);
  const step = r(k.rate / k.correction1);
  const decoupled = k.weightDecay !== 0 && k.decoupled;
  const coupled = k.weightDecay !== 0 && !k.decoupled;
  for (let i = 0; i < n; i++) {
    const wi = wd[i]!;
    const decayed = decoupled ? r(wi * decay) : wi;
    const d = coupled ? r(gd[i]! + r(wi * l2)) : gd[i]!;
    const mi = r(r(md[i]! * b1) + r(d * b1c));
    const vi = r(r(vd[i]! * b2) + r(r(d * d) * b2c));
    const denom = r(r(r(Math.sqrt(vi)) / root2) + eps);
    next[i] = r(decayed - r(r(mi / denom) * step));
    expAvg[i] = mi;
    expAvgSq[i] = vi;
  }
  const wrap = (data: Float32Array | Float64Array) => tensor(data, { shape: w.shape, copy: false });
  return [wrap(next), { expAvg: wrap(expAvg), expAvgSq: wrap(expAvgSq) }];
}
