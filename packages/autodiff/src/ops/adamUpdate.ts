import { kernels } from "../backends/backend.js";
import { argumentError, dtypeError, shapeError, show, showShape } from "../errors.js";
import type { AdamStep } from "../kernels/optim.js";
import { defineOp, type BatchResult } from "../registry.js";
import { shapesEqual } from "../shape.js";
import { tensor, type Tensor } from "../tensor.js";
import { vjp } from "../transforms.js";
import { add, div, mul, sub } from "./binary.js";
import { cast } from "./cast.js";
import { batchAt } from "./batching.js";
import { stack } from "./concat.js";
import { reshape } from "./reshape.js";
import { slice } from "./slice.js";
import { sqrt, square } from "./unary.js";
import { assertFloat, assertTensor, unfilled } from "./util.js";

// One Adam or AdamW step of one parameter as an op: the optimizer's update runs where ops run
// (under jit, its step is part of the traced program). What changes from step to step — the
// learning rate and the bias corrections — is a tensor input, so that a traced program takes
// each step's values; the rest are attrs.

/** Adam's settings that stay the same from step to step. */
export interface AdamUpdateAttrs {
  /** Decay rate of the first moment estimate, in [0, 1). */
  readonly beta1: number;
  /** Decay rate of the second moment estimate, in [0, 1). */
  readonly beta2: number;
  /** Added to √v̂ in the denominator. */
  readonly eps: number;
  /** L2 penalty (Adam) or decoupled decay rate (AdamW); 0 for none. */
  readonly weightDecay: number;
  /** AdamW: decay the weights directly rather than adding weightDecay·w to the gradient. */
  readonly decoupled: boolean;
}

const OP = "adamUpdate";

function checkAttrs(attrs: AdamUpdateAttrs): void {
  const { beta1, beta2, eps, weightDecay, decoupled } = attrs;
  const numbers = { beta1, beta2, eps, weightDecay };
  for (const [name, value] of Object.entries(numbers)) {
    const unit = name === "beta1" || name === "beta2";
    const valid =
      typeof value === "number" && Number.isFinite(value) && value >= 0 && (!unit || value < 1);
    if (!valid) {
      const expected = unit ? "a number in [0, 1)" : "a finite number ≥ 0";
      throw argumentError(OP, `${name} must be ${expected}, got ${show(value)}`);
    }
  }
  if (typeof decoupled !== "boolean") {
    throw argumentError(OP, `decoupled must be a boolean, got ${show(decoupled)}`);
  }
}

/** The step's [rate, correction1, correction2] as numbers, checked. */
function stepValues(hyper: Tensor): [number, number, number] {
  assertFloat(OP, "hyper", hyper);
  if (!shapesEqual(hyper.shape, [3])) {
    throw shapeError(
      OP,
      `hyper must have shape [3] (learning rate, 1 − β₁ᵗ, 1 − β₂ᵗ), got ${showShape(hyper.shape)}`,
    );
  }
  const [rate, correction1, correction2] = hyper.buffer;
  if (![rate, correction1, correction2].every(Number.isFinite)) {
    throw argumentError(
      OP,
      `hyper must hold finite numbers, got [${rate}, ${correction1}, ${correction2}]`,
    );
  }
  return [rate!, correction1!, correction2!];
}

/** @internal Tests send float32 through the ops too, to compare the kernel with them. */
export const adamUpdateTuning = { fused: true };

/**
 * The step with ops, in PyTorch's arrangement (√v/√(1 − β₂ᵗ) + ε) and lr/(1 − β₁ᵗ): what the
 * float32 kernel computes, rounding where these ops round. The step's values are computed in
 * float64 and rounded once to w's dtype, as numbers would be, so that they may be traced.
 */
function composed(
  w: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: Tensor,
  attrs: AdamUpdateAttrs,
) {
  const { beta1, beta2, eps, weightDecay, decoupled } = attrs;
  const wide = cast(hyper, "float64");
  const [rate, correction1, correction2] = [0, 1, 2].map((i) =>
    reshape(slice(wide, [i], [i + 1]), []),
  ) as [Tensor, Tensor, Tensor];
  const asW = (x: Tensor) => cast(x, w.dtype);
  let decayed = w;
  let d = g;
  if (weightDecay !== 0 && decoupled) decayed = mul(w, asW(sub(1, mul(rate, weightDecay))));
  if (weightDecay !== 0 && !decoupled) d = add(g, mul(w, weightDecay));
  const expAvg = add(mul(m, beta1), mul(d, 1 - beta1));
  const expAvgSq = add(mul(v, beta2), mul(square(d), 1 - beta2));
  const denom = add(div(sqrt(expAvgSq), asW(sqrt(correction2))), eps);
  const next = sub(decayed, mul(div(expAvg, denom), asW(div(rate, correction1))));
  return [next, expAvg, expAvgSq] as const;
}

const adamUpdateOp = defineOp({
  name: OP,
  inputs: ["w", "g", "m", "v", "hyper"],
  outputs: ["w", "m", "v"],
  // Each element of w, m and v is read before the same element of w′, m′ and v′ is written.
  inPlace: [0, 2, 3],
  forward: ([w, g, m, v, hyper], attrs: AdamUpdateAttrs) => {
    assertFloat(OP, "w", w);
    for (const [name, x] of [
      ["g", g],
      ["m", m],
      ["v", v],
    ] as const) {
      if (x.dtype !== w.dtype) {
        throw dtypeError(OP, `${name} must have w's dtype ${w.dtype}, got ${x.dtype}`);
      }
      if (!shapesEqual(x.shape, w.shape)) {
        throw shapeError(
          OP,
          `${name} must have w's shape ${showShape(w.shape)}, got ${showShape(x.shape)}`,
        );
      }
    }
    checkAttrs(attrs);
    const [rate, correction1, correction2] = stepValues(hyper);
    if (w.dtype === "float64" || !adamUpdateTuning.fused) return composed(w, g, m, v, hyper, attrs);
    // Listed rather than spread from attrs: spread, this object was a large part of what survived
    // scavenges in jitted training steps (docs/performance.md#jit-replayed-steps).
    const { beta1, beta2, eps, weightDecay, decoupled } = attrs;
    const step: AdamStep = {
      rate,
      beta1,
      beta2,
      eps,
      weightDecay,
      decoupled,
      correction1,
      correction2,
    };
    const [next, expAvg, expAvgSq] = [0, 1, 2].map(() => unfilled("float32", w.shape));
    const data = (t: Tensor) => t.buffer as Float32Array;
    kernels().adamF32(
      data(w),
      data(g),
      data(m),
      data(v),
      step,
      data(next!),
      data(expAvg!),
      data(expAvgSq!),
    );
    return [next!, expAvg!, expAvgSq!] as const;
  },
  // Through the formula, the step's values included (a learning rate can be learned).
  vjp: ({ dy, inputs: [w, g, m, v, hyper], attrs }) => {
    const [, pullback] = vjp(
      (...xs: Tensor[]) => composed(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!, attrs),
      w,
      g,
      m,
      v,
      hyper,
    );
    return pullback([...dy]);
  },
  batch: ({ inputs, axes, size, attrs }): BatchResult<readonly ["w", "m", "v"]> => {
    const batched = inputs.map((x, i) => batchAt(x, axes[i] ?? null, 0, size));
    const [w, g, m, v, hyper] = batched as [Tensor, Tensor, Tensor, Tensor, Tensor];
    // The same step for every slice is one elementwise pass over the whole batch; steps that
    // differ (a sweep over learning rates) take one pass per slice.
    if (axes[4] === null) {
      return { y: adamUpdateOp(w, g, m, v, inputs[4]!, attrs), axes: [0, 0, 0] };
    }
    const slices = Array.from({ length: size }, (_, b) => {
      const at = (x: Tensor) => reshape(slice(x, [b], [b + 1]), x.shape.slice(1));
      return adamUpdateOp(at(w), at(g), at(m), at(v), at(hyper), attrs);
    });
    const stacked = [0, 1, 2].map((k) =>
      stack(
        slices.map((s) => s[k]!),
        0,
      ),
    );
    return { y: stacked as unknown as readonly [Tensor, Tensor, Tensor], axes: [0, 0, 0] };
  },
  samples: (kit) =>
    kit.shape({ minRank: 0, maxRank: 2, minDim: 1, maxDim: 4 }).chain((shape) =>
      kit.fc
        .tuple(
          kit.fc.tuple(
            kit.tensor(shape),
            kit.tensor(shape),
            kit.tensor(shape),
            kit.tensor(shape, { min: 0.1, max: 2 }),
          ),
          kit.fc.tuple(
            kit.fc.double({ min: 0, max: 0.1, noNaN: true }),
            kit.fc.integer({ min: 1, max: 1000 }),
          ),
          kit.fc.record({
            beta1: kit.fc.constantFrom(0, 0.5, 0.9),
            beta2: kit.fc.constantFrom(0.9, 0.999),
            eps: kit.fc.constantFrom(1e-8, 1e-3),
            weightDecay: kit.fc.constantFrom(0, 0.01),
            decoupled: kit.fc.boolean(),
          }),
        )
        .map(([[w, g, m, v], [rate, t], attrs]) => {
          const hyper = [rate, 1 - attrs.beta1 ** t, 1 - attrs.beta2 ** t];
          return {
            inputs: [w, g, m, v, tensor(hyper, { dtype: "float64" })],
            attrs,
          };
        }),
    ),
});

/**
 * One Adam or AdamW step of a parameter: [w′, m′, v′] from the parameter w, its gradient g and
 * moment estimates m and v (all of one shape and float dtype), and the step's values `hyper` =
 * [learning rate, 1 − β₁ᵗ, 1 − β₂ᵗ] at update t = 1, 2, … (read in float64 whatever its dtype).
 * float32 runs one fused pass that rounds exactly where the ops of the formula would; float64
 * runs those ops. Differentiable through the formula, in every input (a step of a learned
 * optimizer, a learning rate's gradient).
 */
export function adamUpdate(
  w: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: Tensor,
  attrs: AdamUpdateAttrs,
): readonly [Tensor, Tensor, Tensor] {
  for (const [name, x] of [
    ["w", w],
    ["g", g],
    ["m", m],
    ["v", v],
    ["hyper", hyper],
  ] as const) {
    assertTensor(OP, name, x);
  }
  return adamUpdateOp(w, g, m, v, hyper, attrs);
}
