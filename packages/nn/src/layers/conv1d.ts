import { conv1d as conv1dOp, type FloatDType, type Tensor } from "@tapegrad/autodiff";
import type { Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import { weightAndBiasInit } from "./weightAndBias.js";
import {
  argumentError,
  booleanOption,
  floatDType,
  initializerOption,
  nonNegativeInt,
  optionsObject,
  paramOf,
  positiveInt,
  shapeError,
  showShape,
  type NoState,
} from "./check.js";

/** Options of the conv1d layer, as torch.nn.Conv1d (zero padding only). */
export interface Conv1dLayerOptions {
  /** Cin, the size of axis 1 of the input. */
  readonly inChannels: number;
  /** Cout, the size of axis 1 of the output. */
  readonly outChannels: number;
  /** k, the kernel's length. */
  readonly kernelSize: number;
  /** Default 1. */
  readonly stride?: number;
  /** Zeros at both ends (default 0), or 'valid' (0) or 'same' (output length = input, stride 1). */
  readonly padding?: number | "valid" | "same";
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: number;
  /** Channel groups (default 1); must divide inChannels and outChannels. */
  readonly groups?: number;
  /** Learn a bias per output channel (default true). */
  readonly bias?: boolean;
  /** Default: U(±1/√fanIn), fanIn = Cin/groups·k, PyTorch's kaiming_uniform with a = √5. */
  readonly weightInit?: Initializer;
  /** Default: U(±1/√fanIn) with the weight's fanIn. */
  readonly biasInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** A conv1d layer's params, as PyTorch names and lays them out. */
export interface Conv1dParams {
  /** [Cout, Cin/groups, k]. */
  readonly weight: Tensor;
  /** [Cout], added at every position of its output channel. */
  readonly bias?: Tensor;
}

/**
 * 1-D convolution layer (cross-correlation, torch.nn.Conv1d) on [N, Cin, L] or [Cin, L] with
 * weight [Cout, Cin/groups, k] and bias [Cout]; Lout = floor((L + 2p − d·(k − 1) − 1)/s) + 1.
 * autodiff's conv1d (a height-1 conv2d), whose ops give the gradients.
 */
export function conv1d(options: Conv1dLayerOptions): Layer<Conv1dParams, NoState> {
  const where = "conv1d";
  optionsObject(where, options);
  const inChannels = positiveInt(where, "inChannels", options.inChannels);
  const outChannels = positiveInt(where, "outChannels", options.outChannels);
  const kernelSize = positiveInt(where, "kernelSize", options.kernelSize);
  const stride = positiveInt(where, "stride", options.stride ?? 1);
  const dilation = positiveInt(where, "dilation", options.dilation ?? 1);
  const groups = positiveInt(where, "groups", options.groups ?? 1);
  const hasBias = booleanOption(where, "bias", options.bias ?? true);
  const dtype = floatDType(where, options.dtype ?? "float32");
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw argumentError(
      where,
      `groups must divide inChannels and outChannels, got groups ${groups} ` +
        `for inChannels ${inChannels} and outChannels ${outChannels}`,
    );
  }
  const padding = options.padding ?? 0;
  if (padding === "same" && stride !== 1) {
    throw argumentError(where, `padding 'same' needs stride 1, got stride ${stride}`);
  }
  if (padding !== "same" && padding !== "valid") nonNegativeInt(where, "padding", padding);
  initializerOption(where, "weightInit", options.weightInit);
  initializerOption(where, "biasInit", options.biasInit);
  const weightShape = [outChannels, inChannels / groups, kernelSize];
  const init = weightAndBiasInit<Conv1dParams>(where, {
    weightShape,
    outputs: outChannels,
    hasBias,
    dtype,
    weightInit: options.weightInit,
    biasInit: options.biasInit,
  });
  const geometry = { stride, padding, dilation, groups };

  return defineLayer<Conv1dParams, NoState>({
    kind: where,
    init,
    applyWithState: (params, state, x) => {
      if ((x.ndim !== 3 && x.ndim !== 2) || x.shape[x.ndim - 2] !== inChannels) {
        throw shapeError(
          where,
          `x must be [N, ${inChannels}, L] or [${inChannels}, L] (${inChannels} input ` +
            `channels), got shape ${showShape(x.shape)}`,
        );
      }
      const weight = paramOf(where, params, "weight", weightShape);
      const bias = hasBias ? paramOf(where, params, "bias", [outChannels]) : undefined;
      return [conv1dOp(x, weight, { ...geometry, bias }), state];
    },
  });
}
