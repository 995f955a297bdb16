import type { FloatDType, Rng, Tensor } from "@tapegrad/autodiff";
import { defaultBiasInit, defaultWeightInit, type Initializer } from "../init.js";
import { drawParam, type NoState } from "./check.js";

/** What a layer with a weight and an optional bias of its output size draws at init. */
export interface WeightAndBiasOptions {
  readonly weightShape: readonly number[];
  /** The bias's length (the layer's outputs or output channels). */
  readonly outputs: number;
  readonly hasBias: boolean;
  readonly dtype: FloatDType;
  /** Default: PyTorch's (kaiming-uniform with a = √5). Checked by the caller (initializerOption). */
  readonly weightInit?: Initializer;
  /** Default: PyTorch's, U(±1/√fan_in) from the weight's shape. */
  readonly biasInit?: Initializer;
}

/**
 * init of linear and the convolutions: the weight, then the bias unless `hasBias` is false, from
 * the same rng.
 */
export function weightAndBiasInit<P extends { weight: Tensor; bias?: Tensor }>(
  where: string,
  options: WeightAndBiasOptions,
): (rng: Rng) => { params: P; state: NoState } {
  const { weightShape, outputs, hasBias, dtype } = options;
  const weightInit = options.weightInit ?? defaultWeightInit;
  const biasInit = options.biasInit ?? defaultBiasInit(weightShape);
  return (rng) => {
    const weight = drawParam(where, "weight", weightInit, rng, weightShape, dtype);
    if (!hasBias) return { params: { weight } as P, state: {} };
    const bias = drawParam(where, "bias", biasInit, rng, [outputs], dtype);
    return { params: { weight, bias } as P, state: {} };
  };
}
