import {
  add,
  div,
  mean,
  mul,
  sqrt,
  square,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import { ones, type Initializer } from "../init.js";
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

/** Options of rmsNorm, as torch.nn.RMSNorm. */
export interface RmsNormOptions {
  /** The trailing shape normalised over: [..., *normalizedShape]; a number for one axis. */
  readonly normalizedShape: number | readonly number[];
  /**
   * Added to the mean square before the square root. Default 1e-6 (PyTorch's default, None,
   * means the dtype's machine epsilon; 1e-6 is what LLaMA-style models use).
   */
  readonly eps?: number;
  /** Learn an elementwise scale of normalizedShape (default true). */
  readonly elementwiseAffine?: boolean;
  /** Default: ones. */
  readonly weightInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** rmsNorm's params: the scale, or `{}` without elementwiseAffine. */
export interface RmsNormParams {
  /** Elementwise scale, of shape normalizedShape. */
  readonly weight?: Tensor;
}

/**
 * Root-mean-square normalisation (torch.nn.RMSNorm): y = x / √(mean(x²) + eps) · weight, the
 * mean over the trailing normalizedShape axes; no centring and no bias. Gradients come from the
 * square/mean/sqrt/div ops' vjps.
 */
export function rmsNorm(options: RmsNormOptions): Layer<RmsNormParams, NoState> {
  const where = "rmsNorm";
  optionsObject(where, options);
  const shape = normalizedShapeOption(where, options.normalizedShape);
  const eps = positiveNumber(where, "eps", options.eps ?? 1e-6);
  const affine = booleanOption(where, "elementwiseAffine", options.elementwiseAffine ?? true);
  const dtype = floatDType(where, options.dtype ?? "float32");
  initializerOption(where, "weightInit", options.weightInit);
  const weightInit = options.weightInit ?? ones();

  return defineLayer<RmsNormParams, NoState>({
    kind: where,
    init: (rng) => {
      if (!affine) return { params: {}, state: {} };
      return {
        params: { weight: drawParam(where, "weight", weightInit, rng, shape, dtype) },
        state: {},
      };
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
      const axis = shape.map((_, i) => lead + i);
      const meanSquare = mean(square(x), { axis, keepdims: true });
      const y = div(x, sqrt(add(meanSquare, eps)));
      if (!affine) return [y, state];
      return [mul(y, paramOf(where, params, "weight", shape)), state];
    },
  });
}
