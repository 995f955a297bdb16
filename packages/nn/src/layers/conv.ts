import {
  conv2d as conv2dOp,
  type ConvActivation,
  convTranspose2d as convTranspose2dOp,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import type { Initializer } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import { weightAndBiasInit } from "./weightAndBias.js";
import {
  argumentError,
  booleanOption,
  floatDType,
  initializerOption,
  optionsObject,
  pairOf,
  paramOf,
  positiveInt,
  shapeError,
  showShape,
  type ConvPadding,
  type NoState,
  type Pair,
} from "./check.js";

/** Options shared by conv2d and convTranspose2d layers. */
interface ConvOptionsBase {
  /** Cin, the size of axis 1 of the input. */
  readonly inChannels: number;
  /** Cout, the size of axis 1 of the output. */
  readonly outChannels: number;
  /** kh×kw, or one number for a square kernel. */
  readonly kernelSize: Pair;
  /** Default 1. */
  readonly stride?: Pair;
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: Pair;
  /** Channel groups (default 1); must divide inChannels and outChannels. */
  readonly groups?: number;
  /** Learn a bias per output channel (default true). */
  readonly bias?: boolean;
  /** Default: U(±1/√fanIn), PyTorch's kaiming_uniform with a = √5. */
  readonly weightInit?: Initializer;
  /** Default: U(±1/√fanIn) with the weight's fanIn. */
  readonly biasInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** Options of the conv2d layer: the kernel's geometry, padding, bias and initializers. */
export interface Conv2dLayerOptions extends ConvOptionsBase {
  /** Zeros around each spatial axis (default 0), or 'valid' (0) or 'same' (stride 1 only). */
  readonly padding?: ConvPadding;
  /**
   * "relu" applies relu to the output inside the convolution's kernel call, with the bias
   * (one pass over the output instead of three); default "linear", no activation.
   */
  readonly activation?: ConvActivation;
}

/** Options of the convTranspose2d layer, with PyTorch's meaning of padding and outputPadding. */
export interface ConvTranspose2dLayerOptions extends ConvOptionsBase {
  /** Removed from both ends of each output axis (default 0). */
  readonly padding?: Pair;
  /** Added after the end of each output axis (default 0); less than stride or dilation. */
  readonly outputPadding?: Pair;
}

/** A convolution's params: weight, and bias [Cout] unless disabled. */
export interface ConvParams {
  /** conv2d: [Cout, Cin/groups, kh, kw]; convTranspose2d: [Cin, Cout/groups, kh, kw]. */
  readonly weight: Tensor;
  /** [Cout], added to every position of its output channel. */
  readonly bias?: Tensor;
}

interface ConvGeometry {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly hasBias: boolean;
  readonly dtype: FloatDType;
  readonly weightInit?: Initializer;
  readonly biasInit?: Initializer;
}

function resolveCommon(where: string, options: ConvOptionsBase): ConvGeometry {
  optionsObject(where, options);
  const inChannels = positiveInt(where, "inChannels", options.inChannels);
  const outChannels = positiveInt(where, "outChannels", options.outChannels);
  const groups = positiveInt(where, "groups", options.groups ?? 1);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw argumentError(
      where,
      `groups must divide inChannels and outChannels, got groups ${groups} ` +
        `for inChannels ${inChannels} and outChannels ${outChannels}`,
    );
  }
  initializerOption(where, "weightInit", options.weightInit);
  initializerOption(where, "biasInit", options.biasInit);
  return {
    inChannels,
    outChannels,
    groups,
    kernelSize: pairOf(where, "kernelSize", options.kernelSize, 1),
    stride: pairOf(where, "stride", options.stride ?? 1, 1),
    dilation: pairOf(where, "dilation", options.dilation ?? 1, 1),
    hasBias: booleanOption(where, "bias", options.bias ?? true),
    dtype: floatDType(where, options.dtype ?? "float32"),
    weightInit: options.weightInit,
    biasInit: options.biasInit,
  };
}

/** init for both convolutions: the weight, then the bias, from the same rng. */
function convInit(where: string, g: ConvGeometry, weightShape: number[]) {
  return weightAndBiasInit<ConvParams>(where, { ...g, weightShape, outputs: g.outChannels });
}

function assertChannels(where: string, x: Tensor, channels: number): void {
  if ((x.ndim !== 4 && x.ndim !== 3) || x.shape[x.ndim - 3] !== channels) {
    throw shapeError(
      where,
      `x must be [N, ${channels}, H, W] or [${channels}, H, W] (${channels} input channels), ` +
        `got shape ${showShape(x.shape)}`,
    );
  }
}

/**
 * 2-D convolution layer (cross-correlation, as PyTorch's Conv2d) on NCHW data with weight
 * [Cout, Cin/groups, kh, kw] and bias [Cout]; output size per axis
 * floor((in + 2p − d·(k − 1) − 1)/s) + 1. Gradients come from the conv2d op's vjp.
 */
export function conv2d(options: Conv2dLayerOptions): Layer<ConvParams, NoState> {
  const where = "conv2d";
  const g = resolveCommon(where, options);
  const padding = options.padding ?? 0;
  if (padding === "same") {
    if (g.stride[0] !== 1 || g.stride[1] !== 1) {
      throw argumentError(
        where,
        `padding 'same' needs stride 1, got stride ${showShape(g.stride)}`,
      );
    }
  } else if (padding !== "valid") {
    pairOf(where, "padding", padding, 0);
  }
  const [kh, kw] = g.kernelSize;
  const weightShape = [g.outChannels, g.inChannels / g.groups, kh, kw];
  const activation = options.activation ?? "linear";
  if (activation !== "linear" && activation !== "relu") {
    throw argumentError(
      where,
      `activation must be "linear" or "relu", got ${JSON.stringify(activation)}`,
    );
  }
  const geometry = { stride: g.stride, padding, dilation: g.dilation, groups: g.groups };

  return defineLayer<ConvParams, NoState>({
    kind: where,
    init: convInit(where, g, weightShape),
    applyWithState: (params, state, x) => {
      assertChannels(where, x, g.inChannels);
      const weight = paramOf(where, params, "weight", weightShape);
      const bias = g.hasBias ? paramOf(where, params, "bias", [g.outChannels]) : undefined;
      return [conv2dOp(x, weight, { ...geometry, bias, activation }), state];
    },
  });
}

/**
 * Transposed convolution layer (PyTorch's ConvTranspose2d) with weight [Cin, Cout/groups, kh, kw]
 * and bias [Cout]; Hout = (H − 1)·s − 2p + d·(kh − 1) + outputPadding + 1. Its default init
 * takes fanIn from dim 1 of the weight, as PyTorch does. Gradients come from the op's vjp.
 */
export function convTranspose2d(options: ConvTranspose2dLayerOptions): Layer<ConvParams, NoState> {
  const where = "convTranspose2d";
  const g = resolveCommon(where, options);
  const padding = pairOf(where, "padding", options.padding ?? 0, 0);
  const outputPadding = pairOf(where, "outputPadding", options.outputPadding ?? 0, 0);
  for (const axis of [0, 1]) {
    if (outputPadding[axis]! >= Math.max(g.stride[axis]!, g.dilation[axis]!)) {
      throw argumentError(
        where,
        `outputPadding must be smaller than stride or dilation, got outputPadding ` +
          `${showShape(outputPadding)} with stride ${showShape(g.stride)} and dilation ` +
          `${showShape(g.dilation)}`,
      );
    }
  }
  const [kh, kw] = g.kernelSize;
  const weightShape = [g.inChannels, g.outChannels / g.groups, kh, kw];
  const geometry = {
    stride: g.stride,
    padding,
    outputPadding,
    dilation: g.dilation,
    groups: g.groups,
  };

  return defineLayer<ConvParams, NoState>({
    kind: where,
    init: convInit(where, g, weightShape),
    applyWithState: (params, state, x) => {
      assertChannels(where, x, g.inChannels);
      const weight = paramOf(where, params, "weight", weightShape);
      const bias = g.hasBias ? paramOf(where, params, "bias", [g.outChannels]) : undefined;
      return [convTranspose2dOp(x, weight, { ...geometry, bias }), state];
    },
  });
}
