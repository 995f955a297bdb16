import { kernels } from "../backends/backend.js";
import type { FloatArray } from "../dtype.js";
import { argumentError, dtypeError, shapeError, showShape } from "../errors.js";
import type { ChannelLayout } from "../kernels/norm.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { shapesEqual } from "../shape.js";
import type { SampleKit } from "../sampling.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { foldBatch, unfoldBatch } from "./batching.js";
import {
  asColumn,
  channelAxes,
  inputGradComposite,
  paramGradComposite,
} from "./batchNormComposite.js";
import { add, mul, sub } from "./binary.js";
import { mean } from "./reduce.js";
import { square } from "./unary.js";
import { assertFloat, floatData, produce, unfilled } from "./util.js";

/** Options of batchNorm and its gradient ops. */
export interface BatchNormAttrs {
  /** Added to the variance before the square root (default 1e-5, as PyTorch). */
  readonly eps?: number;
}

/** Checks x ([N, C, …], float, ≥ 1 cell per channel) and returns its channel layout. */
function layoutOf(op: string, x: Tensor): ChannelLayout {
  assertFloat(op, "x", x);
  if (x.ndim < 2) {
    throw shapeError(op, `x must be [N, C, …] (rank ≥ 2), got shape ${showShape(x.shape)}`);
  }
  const channels = x.shape[1]!;
  const outer = x.shape[0]!;
  const inner = x.size / Math.max(1, outer * channels);
  if (outer * inner === 0 && channels > 0) {
    throw shapeError(op, `x has no values per channel to normalise: shape ${showShape(x.shape)}`);
  }
  return { outer, channels, inner };
}

/** Checks a per-channel input ([C], x's dtype). */
function assertChannelVector(op: string, name: string, v: Tensor, x: Tensor): void {
  if (v.ndim !== 1 || v.shape[0] !== x.shape[1]) {
    throw shapeError(
      op,
      `${name} must have shape [${x.shape[1]}] (the channels of x, axis 1; x is ` +
        `${showShape(x.shape)}), got ${showShape(v.shape)}`,
    );
  }
  if (v.dtype !== x.dtype) {
    throw dtypeError(op, `${name} is ${v.dtype} but x is ${x.dtype}: they must match`);
  }
}

function epsOf(op: string, attrs: BatchNormAttrs): number {
  const eps = attrs.eps ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) {
    throw argumentError(op, `eps must be a positive finite number, got ${String(eps)}`);
  }
  return eps;
}

/** Each input, mapped or not, with the batch folded into its channels (as above). */
function foldChannels(inputs: readonly Tensor[], axes: readonly (number | null)[], size: number) {
  return inputs.map((t, i) => {
    const axis = axes[i] ?? null;
    const sliceRank = t.ndim - (axis === null ? 0 : 1);
    return foldBatch(t, axis, size, sliceRank === 1 ? 0 : 1);
  });
}

/** Random [N, C, …] inputs with well-spread values, so every channel's variance is far from 0. */
function batchNormInput(kit: SampleKit) {
  return kit
    .shape({ minRank: 2, maxRank: 4, minDim: 1, maxDim: 3 })
    .filter((shape) => shape.reduce((a, b) => a * b, 1) / shape[1]! >= 3)
    .chain((shape) => kit.tensor(shape, { distinct: true, margin: 0.2 }));
}

const batchNormOp = defineOp({
  name: "batchNorm",
  inputs: ["x", "weight", "bias"],
  forward: ([x, weight, bias], attrs: BatchNormAttrs) => {
    const layout = layoutOf("batchNorm", x);
    assertChannelVector("batchNorm", "weight", weight, x);
    assertChannelVector("batchNorm", "bias", bias, x);
    const eps = epsOf("batchNorm", attrs);
    return produce(x.dtype, x.shape, (y) =>
      kernels().batchNorm(
        floatData("batchNorm", "x", x),
        layout,
        eps,
        floatData("batchNorm", "weight", weight),
        floatData("batchNorm", "bias", bias),
        y as FloatArray,
      ),
    );
  },
  vjp: ({ dy, inputs: [x, weight], attrs, needsGrad }) => {
    const dx = needsGrad[0] ? batchNormBackward(dy, x, weight, attrs) : null;
    if (!needsGrad[1] && !needsGrad[2]) return [dx, null, null];
    return [dx, ...batchNormParamGrad(dy, x, attrs)];
  },
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const y = batchNormOp.apply(foldChannels(inputs, axes, size), attrs);
    return { y: unfoldBatch(y, size, 1), axes: [1] };
  },
  samples: (kit) =>
    batchNormInput(kit).chain((x) =>
      kit.fc
        .tuple(kit.tensor([x.shape[1]!]), kit.tensor([x.shape[1]!]))
        .map(([weight, bias]) => ({ inputs: [x, weight, bias], attrs: {} })),
    ),
});

/**
 * Batch normalisation with the batch's own statistics, per channel (axis 1) of x ([N, C, …]):
 * y = (x − μ)/√(σ² + eps)·weight + bias, μ and the biased σ² over every axis but 1. One fused
 * kernel forward; the gradient is batchNormBackward (x) and batchNormParamGrad (weight, bias).
 */
export function batchNorm(
  x: TensorLike,
  weight: TensorLike,
  bias: TensorLike,
  attrs: BatchNormAttrs = {},
): Tensor {
  return batchNormOp(x, weight, bias, attrs);
}

const batchNormBackwardOp = defineOp({
  name: "batchNormBackward",
  inputs: ["dy", "x", "weight"],
  forward: ([dy, x, weight], attrs: BatchNormAttrs) => {
    const layout = layoutOf("batchNormBackward", x);
    assertSameShape("batchNormBackward", dy, x);
    assertChannelVector("batchNormBackward", "weight", weight, x);
    const eps = epsOf("batchNormBackward", attrs);
    return produce(x.dtype, x.shape, (dx) =>
      kernels().batchNormBackward(
        floatData("batchNormBackward", "dy", dy),
        floatData("batchNormBackward", "x", x),
        layout,
        eps,
        floatData("batchNormBackward", "weight", weight),
        dx as FloatArray,
        null,
        null,
      ),
    );
  },
  // Second order differentiates the same function written with primitive ops.
  vjp: ({ dy: g, inputs: [dy, x, weight], attrs }) => {
    const eps = epsOf("batchNormBackward", attrs);
    const [, pullback] = vjp(
      (d: Tensor, v: Tensor, w: Tensor) => inputGradComposite(d, v, w, eps),
      dy,
      x,
      weight,
    );
    return pullback(g);
  },
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const dx = batchNormBackwardOp.apply(foldChannels(inputs, axes, size), attrs);
    return { y: unfoldBatch(dx, size, 1), axes: [1] };
  },
  samples: (kit) =>
    batchNormInput(kit).chain((x) =>
      kit.fc
        .tuple(kit.tensor(x.shape), kit.tensor([x.shape[1]!]))
        .map(([dy, weight]) => ({ inputs: [dy, x, weight], attrs: {} })),
    ),
  tolerance: { atol: 1e-4 },
});

/**
 * The x-gradient of batchNorm for output cotangent dy: weight/σ·(dy − mean(dy) − x̂·mean(dy·x̂)),
 * means over each channel's cells. Fused in one kernel; differentiable (second order).
 */
export function batchNormBackward(
  dy: TensorLike,
  x: TensorLike,
  weight: TensorLike,
  attrs: BatchNormAttrs = {},
): Tensor {
  return batchNormBackwardOp(dy, x, weight, attrs);
}

const batchNormParamGradOp = defineOp({
  name: "batchNormParamGrad",
  inputs: ["dy", "x"],
  outputs: ["dweight", "dbias"],
  forward: ([dy, x], attrs: BatchNormAttrs) => {
    const layout = layoutOf("batchNormParamGrad", x);
    assertSameShape("batchNormParamGrad", dy, x);
    const eps = epsOf("batchNormParamGrad", attrs);
    const dweight = unfilled(x.dtype, [layout.channels]);
    const dbias = unfilled(x.dtype, [layout.channels]);
    kernels().batchNormBackward(
      floatData("batchNormParamGrad", "dy", dy),
      floatData("batchNormParamGrad", "x", x),
      layout,
      eps,
      null,
      null,
      dweight.buffer as FloatArray,
      dbias.buffer as FloatArray,
    );
    return [dweight, dbias];
  },
  vjp: ({ dy: g, inputs: [dy, x], attrs }) => {
    const eps = epsOf("batchNormParamGrad", attrs);
    const [, pullback] = vjp((d: Tensor, v: Tensor) => paramGradComposite(d, v, eps), dy, x);
    return pullback(g);
  },
  batch: ({ inputs, axes, size, attrs }): BatchResult<readonly ["dweight", "dbias"]> => {
    const [dweight, dbias] = batchNormParamGradOp.apply(foldChannels(inputs, axes, size), attrs);
    return { y: [unfoldBatch(dweight, size, 0), unfoldBatch(dbias, size, 0)], axes: [0, 0] };
  },
  samples: (kit) =>
    batchNormInput(kit).chain((x) =>
      kit.tensor(x.shape).map((dy) => ({ inputs: [dy, x], attrs: {} })),
    ),
  tolerance: { atol: 1e-4 },
});

/**
 * The weight and bias gradients of batchNorm for output cotangent dy, each [C]:
 * `[Σ dy·x̂, Σ dy]` over each channel's cells. Fused in one kernel; differentiable.
 */
export function batchNormParamGrad(
  dy: TensorLike,
  x: TensorLike,
  attrs: BatchNormAttrs = {},
): readonly [dweight: Tensor, dbias: Tensor] {
  return batchNormParamGradOp(dy, x, attrs);
}

const channelMomentsOp = defineOp({
  name: "channelMoments",
  inputs: ["x"],
  outputs: ["mean", "variance"],
  forward: ([x]) => {
    const layout = layoutOf("channelMoments", x);
    const mean = unfilled(x.dtype, [layout.channels]);
    const variance = unfilled(x.dtype, [layout.channels]);
    const data = floatData("channelMoments", "x", x);
    kernels().channelMoments(
      data,
      layout,
      mean.buffer as FloatArray,
      variance.buffer as FloatArray,
    );
    return [mean, variance];
  },
  // d mean/dx = 1/n, d var/dx = 2(x − μ)/n, per channel.
  vjp: ({ dy: [dmean, dvariance], inputs: [x] }) => {
    const axis = channelAxes(x);
    const count = x.size / x.shape[1]!;
    const centered = sub(x, mean(x, { axis, keepdims: true }));
    const fromMean = mul(asColumn(dmean, x), 1 / count);
    return [add(fromMean, mul(mul(asColumn(dvariance, x), centered), 2 / count))];
  },
  batch: ({ inputs, axes, size }): BatchResult<readonly ["mean", "variance"]> => {
    const [mean, variance] = channelMomentsOp.apply(foldChannels(inputs, axes, size), {});
    return { y: [unfoldBatch(mean, size, 0), unfoldBatch(variance, size, 0)], axes: [0, 0] };
  },
  samples: (kit) => batchNormInput(kit).map((x) => ({ inputs: [x], attrs: {} })),
});

/**
 * Per channel (axis 1) of x ([N, C, …]): its mean and biased variance over every other axis,
 * each [C]. What batch-norm layers feed their running statistics.
 */
export function channelMoments(x: TensorLike): readonly [mean: Tensor, variance: Tensor] {
  return channelMomentsOp(x, {});
}

function assertSameShape(op: string, dy: Tensor, x: Tensor): void {
  if (!shapesEqual(dy.shape, x.shape)) {
    throw shapeError(
      op,
      `dy must have x's shape ${showShape(x.shape)}, got ${showShape(dy.shape)}`,
    );
  }
}
