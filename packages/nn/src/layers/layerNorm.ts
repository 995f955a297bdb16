import {
  cast,
  full,
  layerNorm as layerNormOp,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import { ones, zeros, type Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import {
  booleanOption,
  drawParam,
  floatDType,
  initializerOption,
  normalizedShapeOption,
  optionsObject,
  paramOf,
  positiveNumber,
  shapeError,
  showShape,
  type NoState,
} from "./check.js";

/** Options of layerNorm, with PyTorch's defaults. */
export interface LayerNormOptions {
  /** The trailing shape normalised over: [..., *normalizedShape]; a number for one axis. */
  readonly normalizedShape: number | readonly number[];
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Learn an elementwise scale and shift of normalizedShape (default true). */
  readonly elementwiseAffine?: boolean;
  /** Default: ones. */
  readonly weightInit?: Initializer;
  /** Default: zeros. */
  readonly biasInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** Scale and shift of normalizedShape; `{}` without elementwiseAffine. */
export interface LayerNormParams {
  /** Elementwise scale, of shape normalizedShape. */
  readonly weight?: Tensor;
  /** Elementwise shift, of shape normalizedShape. */
  readonly bias?: Tensor;
}

/**
 * Layer normalisation (PyTorch's LayerNorm): each sample is normalised over its trailing
 * normalizedShape axes, y = (x − μ)/√(σ² + eps)·weight + bias with the biased σ². The same in
 * training and eval; no state. One fused op (autodiff's layerNorm) forward and backward; without
 * elementwiseAffine it is given ones and zeros.
 */
export function layerNorm(options: LayerNormOptions): Layer<LayerNormParams, NoState> {
  const where = "layerNorm";
  optionsObject(where, options);
  const shape = normalizedShapeOption(where, options.normalizedShape);
  const eps = positiveNumber(where, "eps", options.eps ?? 1e-5);
  const affine = booleanOption(where, "elementwiseAffine", options.elementwiseAffine ?? true);
  const dtype = floatDType(where, options.dtype ?? "float32");
  initializerOption(where, "weightInit", options.weightInit);
  initializerOption(where, "biasInit", options.biasInit);
  const weightInit = options.weightInit ?? ones();
  const biasInit = options.biasInit ?? zeros();

  return defineLayer<LayerNormParams, NoState>({
    kind: where,
    init: (rng) => {
      if (!affine) return { params: {}, state: {} };
      const weight = drawParam(where, "weight", weightInit, rng, shape, dtype);
      const bias = drawParam(where, "bias", biasInit, rng, shape, dtype);
      return { params: { weight, bias }, state: {} };
    },
    applyWithState: (params, state, x) => {
      const lead = x.ndim - shape.length;
      if (lead < 0 || shape.some((d, i) => x.shape[lead + i] !== d)) {
        throw shapeError(
          where,
          `x must end with the normalized shape ${showShape(shape)}, got shape ` +
            `${showShape(x.shape)}`,
        );
      }
      // The op takes one float dtype: mixed float32/float64 computes in float64, as the
      // broadcasting ops do, and int32 in float32.
      const weight = affine ? paramOf(where, params, "weight", shape) : null;
      const bias = affine ? paramOf(where, params, "bias", shape) : null;
      const dtype = [x, weight, bias].some((t) => t?.dtype === "float64") ? "float64" : "float32";
      const as = (t: Tensor) => (t.dtype === dtype ? t : cast(t, dtype));
      const [y] = layerNormOp(
        as(x),
        weight === null ? full(shape, 1, dtype) : as(weight),
        bias === null ? full(shape, 0, dtype) : as(bias),
        { eps },
      );
      return [y, state];
    },
  });
}
