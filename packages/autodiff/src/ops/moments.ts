import { argumentError, show } from "../errors.js";
import { defineOp } from "../registry.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { div, mul, sub, where } from "./binary.js";
import {
  expandReduced,
  reduceBatch,
  reduceSamples,
  reducedShapes,
  sum,
  type ReduceAttrs,
} from "./broadcast.js";
import { cast } from "./cast.js";
import { equal } from "./compare.js";
import { pow } from "./pow.js";
import { sqrt, square } from "./unary.js";

/** Attrs of variance and std: the reduced axes, keepdims, and the correction subtracted from N. */
export interface MomentAttrs extends ReduceAttrs {
  /**
   * Subtracted from the number of reduced elements N before dividing (default 1, Bessel's
   * correction; 0 gives the population variance), as PyTorch's `correction`.
   */
  readonly correction?: number;
}

/**
 * How many elements each output reduces (N) and the divisor max(0, N − correction), as PyTorch
 * clamps it: a divisor of 0 then gives ∞, or NaN where the sum of squares is 0 too.
 */
function momentCounts(op: string, shape: readonly number[], attrs: MomentAttrs) {
  const { correction = 1 } = attrs;
  if (!Number.isSafeInteger(correction) || correction < 0) {
    throw argumentError(op, `correction must be a non-negative integer, got ${show(correction)}`);
  }
  const { axes } = reducedShapes(op, shape, attrs);
  let count = 1;
  // A scalar accepts axis 0, which reduces nothing.
  for (const a of axes) if (a < shape.length) count *= shape[a]!;
  return { count, divisor: Math.max(0, count - correction) };
}

/** x − mean(x) over the reduced axes, kept as size 1 so that it broadcasts against x. */
function centred(x: Tensor, attrs: MomentAttrs, count: number): Tensor {
  return sub(x, div(sum(x, { axis: attrs.axis, keepdims: true }), count));
}

const varianceOp = defineOp({
  name: "variance",
  inputs: ["x"],
  forward: ([x], attrs: MomentAttrs) => {
    const { count, divisor } = momentCounts("variance", x.shape, attrs);
    const values = x.dtype === "int32" ? cast(x, "float32") : x;
    // Two passes, the mean first: the one-pass E[x²] − E[x]² cancels catastrophically.
    const squares = square(centred(values, attrs, count));
    return div(sum(squares, { axis: attrs.axis, keepdims: attrs.keepdims }), divisor);
  },
  // mean(x) is recomputed from x, so that the rule stays differentiable in x.
  vjp: ({ dy, inputs: [x], attrs, needsGrad }) => {
    if (!needsGrad[0]) return [null];
    const { count, divisor } = momentCounts("variance", x.shape, attrs);
    const spread = mul(centred(x, attrs, count), 2 / divisor);
    return [mul(expandReduced(dy, x, attrs, "variance"), spread)];
  },
  // reduceBatch hands the attrs on whole, correction included, with the axes shifted.
  batch: reduceBatch("variance", (x, attrs): Tensor => varianceOp(x, attrs)),
  // correction < N keeps the divisor positive, so the variance is finite and smooth.
  samples: (kit) =>
    reduceSamples(kit).chain(({ inputs, attrs }) =>
      kit.fc
        .integer({ min: 0, max: momentCounts("variance", inputs[0]!.shape, attrs).count - 1 })
        .map((correction) => ({ inputs, attrs: { ...attrs, correction } })),
    ),
});

/**
 * Σ(x − mean)² / (N − correction) over `axis` (all axes by default), N the number of reduced
 * elements, as torch.var; correction defaults to 1. N − correction ≤ 0 gives ∞ (NaN where all
 * reduced values are equal), as in PyTorch. int32 computes in float32.
 * Gradient: dy·2(x − mean)/(N − correction), broadcast back over the reduced axes.
 */
export function variance(x: TensorLike, attrs: MomentAttrs = {}): Tensor {
  return varianceOp(x, attrs);
}

/**
 * √variance(x, attrs), as torch.std (correction defaults to 1). Gradient: dy·(x − mean) /
 * ((N − correction)·std), and 0 where std = 0 (a constant slice), as PyTorch gives, not NaN.
 */
export function std(x: TensorLike, attrs: MomentAttrs = {}): Tensor {
  // Checked here too, so that a bad argument is reported as std's rather than variance's.
  if (!(x instanceof Tensor) && typeof x !== "number") {
    throw argumentError("std", `x must be a Tensor or a number, got ${show(x)}`);
  }
  if (typeof attrs !== "object" || Array.isArray(attrs)) {
    throw argumentError("std", `attrs must be an object such as { axis: 1 }, got ${show(attrs)}`);
  }
  momentCounts("std", typeof x === "number" ? [] : x.shape, attrs ?? {});
  return powOrZero(variance(x, attrs), 0.5);
}

/**
 * @internal v^p for v ≥ 0 and p > 0 (√v for p = ½), with value and gradient 0 where v = 0:
 * the true derivative there is ∞ for p < 1, and ∞·0 would turn the whole gradient into NaN.
 * PyTorch's std and norm backward mask the same points.
 */
export function powOrZero(v: Tensor, p: number): Tensor {
  const zero = equal(v, 0);
  const safe = where(zero, 1, v);
  return where(zero, 0, p === 0.5 ? sqrt(safe) : pow(safe, p));
}
