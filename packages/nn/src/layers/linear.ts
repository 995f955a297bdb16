import { add, matmul, type FloatDType, type Tensor } from "@tapegrad/autodiff";
import type { Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import { weightAndBiasInit } from "./weightAndBias.js";
import {
  booleanOption,
  floatDType,
  initializerOption,
  optionsObject,
  paramOf,
  positiveInt,
  shapeError,
  showShape,
  type NoState,
} from "./check.js";

/** Options of the linear layer. */
export interface LinearOptions {
  /** Size of the input's last axis. */
  readonly inFeatures: number;
  /** Size of the output's last axis. */
  readonly outFeatures: number;
  /** Learn an additive bias (default true). */
  readonly bias?: boolean;
  /** Default: U(±1/√inFeatures), PyTorch's kaiming_uniform with a = √5. */
  readonly weightInit?: Initializer;
  /** Default: U(±1/√inFeatures). */
  readonly biasInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** A linear layer's params: weight [out, in] as PyTorch stores it, bias [out] unless disabled. */
export interface LinearParams {
  /** [out, in]. */
  readonly weight: Tensor;
  /** [out]. */
  readonly bias?: Tensor;
}

/**
 * Fully connected layer: y = x·Wᵀ + b for x [..., in] → y [..., out], with W [out, in] (read
 * transposed by matmul, no copy). Gradients come from matmul's and add's vjps.
 */
export function linear(options: LinearOptions): Layer<LinearParams, NoState> {
  const where = "linear";
  optionsObject(where, options);
  const inFeatures = positiveInt(where, "inFeatures", options.inFeatures);
  const outFeatures = positiveInt(where, "outFeatures", options.outFeatures);
  const hasBias = booleanOption(where, "bias", options.bias ?? true);
  const dtype = floatDType(where, options.dtype ?? "float32");
  initializerOption(where, "weightInit", options.weightInit);
  initializerOption(where, "biasInit", options.biasInit);
  const weightShape = [outFeatures, inFeatures];
  const init = weightAndBiasInit<LinearParams>(where, {
    weightShape,
    outputs: outFeatures,
    hasBias,
    dtype,
    weightInit: options.weightInit,
    biasInit: options.biasInit,
  });

  return defineLayer<LinearParams, NoState>({
    kind: where,
    init,
    applyWithState: (params, state, x) => {
      if (x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures) {
        throw shapeError(
          where,
          `x must have ${inFeatures} features in its last axis ([..., ${inFeatures}]), ` +
            `got shape ${showShape(x.shape)}`,
        );
      }
      const weight = paramOf(where, params, "weight", weightShape);
      const y = matmul(x, weight, { transB: true });
      if (!hasBias) return [y, state];
      return [add(y, paramOf(where, params, "bias", [outFeatures])), state];
    },
  });
}
