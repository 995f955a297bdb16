import type { Tensor } from "../tensor.js";
import { add, div, mul, sub } from "./binary.js";
import { mean, sum } from "./reduce.js";
import { reshape } from "./reshape.js";
import { sqrt, square } from "./unary.js";

// Batch normalisation's gradients written with primitive ops: the definition the fused kernels
// of batchNorm.ts compute in a pass or two, and what those ops' own vjps differentiate (second
// order).

/** The axes a channel's cells span: every axis but 1. */
export function channelAxes(x: Tensor): number[] {
  return x.shape.map((_, i) => i).filter((i) => i !== 1);
}

/** A [C] vector shaped to broadcast against x: [C, 1, …] with one 1 per axis after the channels. */
export function asColumn(v: Tensor, x: Tensor): Tensor {
  return reshape(v, [v.shape[0]!, ...x.shape.slice(2).map(() => 1)]);
}

/**
 * x − μ and 1/√(σ² + eps) per channel, written with primitive ops: the definition the fused
 * kernels compute in a pass or two, and what their own gradients (second order) differentiate.
 */
function statsComposite(x: Tensor, eps: number) {
  const axis = channelAxes(x);
  const centered = sub(x, mean(x, { axis, keepdims: true }));
  const variance = mean(square(centered), { axis, keepdims: true });
  return { axis, centered, invStd: div(1, sqrt(add(variance, eps))) };
}

/** batchNormBackward's dx, written with primitive ops (see statsComposite). */
export function inputGradComposite(dy: Tensor, x: Tensor, weight: Tensor, eps: number): Tensor {
  const { axis, centered, invStd } = statsComposite(x, eps);
  const xhat = mul(centered, invStd);
  const centeredDy = sub(dy, mean(dy, { axis, keepdims: true }));
  const projection = mul(xhat, mean(mul(dy, xhat), { axis, keepdims: true }));
  return mul(mul(asColumn(weight, x), invStd), sub(centeredDy, projection));
}

/** batchNormParamGrad's [dweight, dbias], written with primitive ops. */
export function paramGradComposite(dy: Tensor, x: Tensor, eps: number): readonly [Tensor, Tensor] {
  const { axis, centered, invStd } = statsComposite(x, eps);
  return [sum(mul(dy, mul(centered, invStd)), { axis }), sum(dy, { axis })];
}

// Batching (vmap): the statistics are per slice, so the batch folds into the channels, not into
// N: x [B, N, C, …] → [N, B·C, …] and a [C] vector → [B·C], one call for the whole batch.
