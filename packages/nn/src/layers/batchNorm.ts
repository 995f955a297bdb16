import {
  Tensor,
  add,
  batchNorm,
  cast,
  channelMoments,
  div,
  full,
  mul,
  reshape,
  sqrt,
  stopGradient,
  sub,
  type FloatDType,
} from "@tapegrad/autodiff";
import { ones, zeros, type Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import {
  booleanOption,
  drawParam,
  floatDType,
  initializerOption,
  numberIn,
  optionsObject,
  paramOf,
  positiveInt,
  positiveNumber,
  shapeError,
  showShape,
  stateError,
} from "./check.js";

/** Options of batchNorm1d and batchNorm2d, with PyTorch's defaults. */
export interface BatchNormOptions {
  /** C, the size of axis 1 of the input. */
  readonly numFeatures: number;
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Weight of the batch statistic in the running average (default 0.1, as PyTorch). */
  readonly momentum?: number;
  /** Learn a per-channel scale and shift (default true). */
  readonly affine?: boolean;
  /** Default: ones. */
  readonly weightInit?: Initializer;
  /** Default: zeros. */
  readonly biasInit?: Initializer;
  /** Default "float32" (params and running statistics). */
  readonly dtype?: FloatDType;
}

/** Scale and shift per channel, [C] each; `{}` when affine is false. */
export interface BatchNormParams {
  /** Per-channel scale γ, [C]. */
  readonly weight?: Tensor;
  /** Per-channel shift β, [C]. */
  readonly bias?: Tensor;
}

/** Running statistics per channel, [C] each: the state eval mode normalises with. */
export interface BatchNormState {
  /** Running average of the batch means, [C] (starts at 0). */
  readonly runningMean: Tensor;
  /** Running average of the unbiased batch variances, [C] (starts at 1). */
  readonly runningVar: Tensor;
}

function makeBatchNorm(
  kind: string,
  ranks: readonly number[],
  layout: string,
  options: BatchNormOptions,
): Layer<BatchNormParams, BatchNormState> {
  optionsObject(kind, options);
  const channels = positiveInt(kind, "numFeatures", options.numFeatures);
  const eps = positiveNumber(kind, "eps", options.eps ?? 1e-5);
  const momentum = numberIn(kind, "momentum", options.momentum ?? 0.1, 0, 1);
  const affine = booleanOption(kind, "affine", options.affine ?? true);
  const dtype = floatDType(kind, options.dtype ?? "float32");
  initializerOption(kind, "weightInit", options.weightInit);
  initializerOption(kind, "biasInit", options.biasInit);
  const weightInit = options.weightInit ?? ones();
  const biasInit = options.biasInit ?? zeros();
  const shape = [channels];

  const readStat = (state: unknown, name: keyof BatchNormState): Tensor => {
    const value = (state as Partial<BatchNormState> | undefined)?.[name];
    if (!(value instanceof Tensor)) {
      throw stateError(
        kind,
        `state.${name} is missing: pass the state from init (applyWithState's state, or ` +
          `ctx.state with apply), got ${value === undefined ? "nothing" : typeof value}`,
      );
    }
    if (value.shape.length !== 1 || value.shape[0] !== channels) {
      throw shapeError(
        kind,
        `state.${name} must have shape [${channels}], got ${showShape(value.shape)}`,
      );
    }
    return value;
  };

  return defineLayer<BatchNormParams, BatchNormState>({
    kind,
    init: (rng) => {
      const state = {
        runningMean: zeros()(rng, shape, dtype),
        runningVar: ones()(rng, shape, dtype),
      };
      if (!affine) return { params: {}, state };
      const weight = drawParam(kind, "weight", weightInit, rng, shape, dtype);
      const bias = drawParam(kind, "bias", biasInit, rng, shape, dtype);
      return { params: { weight, bias }, state };
    },
    applyWithState: (params, state, x, ctx) => {
      if (!ranks.includes(x.ndim) || x.shape[1] !== channels) {
        throw shapeError(
          kind,
          `x must be ${layout} with C = ${channels}, got shape ${showShape(x.shape)}`,
        );
      }
      const running = {
        runningMean: readStat(state, "runningMean"),
        runningVar: readStat(state, "runningVar"),
      };
      // Per-channel vectors broadcast against x as [C, 1, …]: one trailing 1 per spatial axis.
      const asColumn = (v: Tensor) => reshape(v, [channels, ...x.shape.slice(2).map(() => 1)]);
      const weight = affine ? paramOf(kind, params, "weight", shape) : full(shape, 1, x.dtype);
      const bias = affine ? paramOf(kind, params, "bias", shape) : full(shape, 0, x.dtype);
      if (!ctx.training) {
        // Eval folds the running statistics into one scale and shift per channel.
        const scale = div(weight, sqrt(add(running.runningVar, eps)));
        const shift = sub(bias, mul(running.runningMean, scale));
        return [add(mul(x, asColumn(scale)), asColumn(shift)), state];
      }
      const count = x.size / channels;
      if (count < 2) {
        throw shapeError(
          kind,
          `training needs more than one value per channel to estimate a variance, ` +
            `got shape ${showShape(x.shape)}`,
        );
      }
      // The fused op normalises with the batch's biased variance, as PyTorch; the running
      // average gets the unbiased one (÷ count − 1). State is not trained: stopped values.
      const [batchMean, batchVariance] = channelMoments(stopGradient(x));
      const update = (old: Tensor, batch: Tensor, scale: number) =>
        cast(add(mul(old, 1 - momentum), mul(batch, momentum * scale)), old.dtype);
      const next = {
        runningMean: update(running.runningMean, batchMean, 1),
        runningVar: update(running.runningVar, batchVariance, count / (count - 1)),
      };
      // The op wants one dtype; cast is differentiable, so float32 params still learn from float64 x.
      const like = (v: Tensor) => (v.dtype === x.dtype ? v : cast(v, x.dtype));
      return [batchNorm(x, like(weight), like(bias), { eps }), next];
    },
  });
}

/**
 * Batch normalisation of NCHW data per channel: y = (x − μ)/√(σ² + eps)·weight + bias. Training
 * uses the batch's μ and biased σ² over N, H, W and returns running statistics updated as
 * PyTorch (running = (1 − m)·running + m·batch, with the unbiased variance); eval uses them.
 */
export function batchNorm2d(options: BatchNormOptions): Layer<BatchNormParams, BatchNormState> {
  return makeBatchNorm("batchNorm2d", [4], "[N, C, H, W]", options);
}

/**
 * batchNorm2d for [N, C] or [N, C, L] data: statistics over N (and L). Same state, same rules.
 */
export function batchNorm1d(options: BatchNormOptions): Layer<BatchNormParams, BatchNormState> {
  return makeBatchNorm("batchNorm1d", [2, 3], "[N, C] or [N, C, L]", options);
}
