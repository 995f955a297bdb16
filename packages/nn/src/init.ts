import { full, type FloatDType, type Rng, type Tensor } from "@tapegrad/autodiff";
import { argumentError, floatDType, positiveNumber, show, showShape } from "./layers/check.js";

/**
 * Weight initialisers as in torch.nn.init, as values: `kaimingUniform({ a: Math.sqrt(5) })` is
 * a function `(rng, shape, dtype) => Tensor` that layers call in `init` (their `weightInit` and
 * `biasInit` options). Fans follow PyTorch's `_calculate_fan_in_and_fan_out`.
 */
export type Initializer = (rng: Rng, shape: readonly number[], dtype?: FloatDType) => Tensor;

/** Activations `calculateGain` knows, named as tapegrad's ops and layers are. */
export type Nonlinearity =
  "linear" | "conv2d" | "convTranspose2d" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "selu";

/** Which fan scales the variance: `fanIn` keeps forward activations, `fanOut` backward gradients. */
export type FanMode = "fanIn" | "fanOut";

/** Options of kaimingUniform and kaimingNormal: std = gain/√fan, gain from the nonlinearity. */
export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (0 for plain ReLU). Default 0. */
  readonly a?: number;
  /** Default "fanIn". */
  readonly mode?: FanMode;
  /** Default "leakyRelu" (with slope `a`), as PyTorch. */
  readonly nonlinearity?: Nonlinearity;
}

/** Options of xavierUniform and xavierNormal: std = gain·√(2/(fanIn + fanOut)). */
export interface XavierOptions {
  /** Default 1. */
  readonly gain?: number;
}

/**
 * The recommended gain for an activation, as torch.nn.init.calculate_gain: 1 for linear, conv
 * and sigmoid, 5/3 for tanh, √2 for relu, √(2/(1 + slope²)) for leakyRelu (slope defaults to
 * 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv2d":
    case "convTranspose2d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw argumentError("calculateGain", `negative slope must be a number, got ${show(slope)}`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw argumentError(
        "calculateGain",
        `unknown nonlinearity ${show(nonlinearity)}; expected linear, conv2d, convTranspose2d, ` +
          `sigmoid, tanh, relu, leakyRelu or selu`,
      );
  }
}

/**
 * Fans of a weight of `shape`, as PyTorch: with receptive = the product of dims 2…,
 * fanIn = shape[1]·receptive and fanOut = shape[0]·receptive. So linear [out, in] has
 * fanIn = in, conv2d [Cout, Cin/g, kh, kw] has fanIn = Cin/g·kh·kw, and convTranspose2d
 * [Cin, Cout/g, kh, kw] has fanIn = Cout/g·kh·kw. Needs at least 2 dimensions.
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw argumentError(
      "computeFans",
      `fan in and fan out need a weight with at least 2 dimensions, got shape ${showShape(shape)}`,
    );
  }
  let receptive = 1;
  for (const d of shape.slice(2)) receptive *= d;
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function fanOf(where: string, shape: readonly number[], mode: FanMode): number {
  if (mode !== "fanIn" && mode !== "fanOut") {
    throw argumentError(where, `mode must be "fanIn" or "fanOut", got ${show(mode)}`);
  }
  const fans = computeFans(shape);
  return mode === "fanIn" ? fans.fanIn : fans.fanOut;
}

function isEmpty(shape: readonly number[]): boolean {
  return shape.some((d) => d === 0);
}

/** U(−bound, bound), or zeros when the bound or the tensor is empty. */
function symmetricUniform(
  rng: Rng,
  shape: readonly number[],
  bound: number,
  dtype: FloatDType,
): Tensor {
  if (!(bound > 0) || isEmpty(shape)) return full(shape, 0, dtype);
  return rng.uniform(shape, { low: -bound, high: bound, dtype });
}

/**
 * He initialisation, uniform: U(−b, b) with b = gain·√(3/fan), gain = calculateGain(nonlinearity,
 * a). With `a: Math.sqrt(5)` this is PyTorch's Linear/Conv default, b = 1/√fanIn.
 */
export function kaimingUniform(options: KaimingOptions = {}): Initializer {
  const { a = 0, mode = "fanIn", nonlinearity = "leakyRelu" } = options;
  const gain = calculateGain(nonlinearity, a);
  return (rng, shape, dtype = "float32") => {
    const fan = fanOf("kaimingUniform", shape, mode);
    const bound = fan > 0 ? gain * Math.sqrt(3 / fan) : 0;
    return symmetricUniform(rng, shape, bound, floatDType("kaimingUniform", dtype));
  };
}

/** He initialisation, normal: N(0, std²) with std = gain/√fan, gain = calculateGain(nonlinearity, a). */
export function kaimingNormal(options: KaimingOptions = {}): Initializer {
  const { a = 0, mode = "fanIn", nonlinearity = "leakyRelu" } = options;
  const gain = calculateGain(nonlinearity, a);
  return (rng, shape, dtype = "float32") => {
    const fan = fanOf("kaimingNormal", shape, mode);
    const std = fan > 0 ? gain / Math.sqrt(fan) : 0;
    return rng.normal(shape, { std, dtype: floatDType("kaimingNormal", dtype) });
  };
}

/** Glorot initialisation, uniform: U(−b, b) with b = gain·√(6/(fanIn + fanOut)). */
export function xavierUniform(options: XavierOptions = {}): Initializer {
  const gain = positiveNumber("xavierUniform", "gain", options.gain ?? 1);
  return (rng, shape, dtype = "float32") => {
    const { fanIn, fanOut } = computeFans(shape);
    const bound = fanIn + fanOut > 0 ? gain * Math.sqrt(6 / (fanIn + fanOut)) : 0;
    return symmetricUniform(rng, shape, bound, floatDType("xavierUniform", dtype));
  };
}

/** Glorot initialisation, normal: N(0, std²) with std = gain·√(2/(fanIn + fanOut)). */
export function xavierNormal(options: XavierOptions = {}): Initializer {
  const gain = positiveNumber("xavierNormal", "gain", options.gain ?? 1);
  return (rng, shape, dtype = "float32") => {
    const { fanIn, fanOut } = computeFans(shape);
    const std = fanIn + fanOut > 0 ? gain * Math.sqrt(2 / (fanIn + fanOut)) : 0;
    return rng.normal(shape, { std, dtype: floatDType("xavierNormal", dtype) });
  };
}

/** U(low, high) for any shape (biases too). */
export function uniform(
  options: { readonly low?: number; readonly high?: number } = {},
): Initializer {
  const { low = 0, high = 1 } = options;
  if (!(high > low) || !Number.isFinite(low) || !Number.isFinite(high)) {
    throw argumentError("uniform", `expected finite low < high, got low=${low} high=${high}`);
  }
  return (rng, shape, dtype = "float32") => {
    if (isEmpty(shape)) return full(shape, 0, dtype);
    return rng.uniform(shape, { low, high, dtype: floatDType("uniform", dtype) });
  };
}

/** N(mean, std²) for any shape. */
export function normal(
  options: { readonly mean?: number; readonly std?: number } = {},
): Initializer {
  const { mean = 0, std = 1 } = options;
  if (!(std >= 0) || !Number.isFinite(mean) || !Number.isFinite(std)) {
    throw argumentError("normal", `expected finite mean and std ≥ 0, got mean=${mean} std=${std}`);
  }
  return (rng, shape, dtype = "float32") =>
    rng.normal(shape, { mean, std, dtype: floatDType("normal", dtype) });
}

/** Every element equal to `value`; draws nothing from the rng. */
export function constant(value: number): Initializer {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw argumentError("constant", `value must be a number, got ${show(value)}`);
  }
  return (_rng, shape, dtype = "float32") => full(shape, value, floatDType("constant", dtype));
}

/** All zeros (biases, batch norm's shift). */
export function zeros(): Initializer {
  return constant(0);
}

/** All ones (batch norm's and layer norm's scale). */
export function ones(): Initializer {
  return constant(1);
}

/**
 * PyTorch's default for Linear, Conv and ConvTranspose: the weight from kaimingUniform with
 * a = √5, i.e. U(±1/√fanIn), and the bias U(±1/√fanIn) with the weight's fanIn.
 */
export const defaultWeightInit: Initializer = kaimingUniform({ a: Math.sqrt(5) });

/** The default bias initialiser for a layer whose weight has shape `weightShape`. */
export function defaultBiasInit(weightShape: readonly number[]): Initializer {
  const { fanIn } = computeFans(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return (rng, shape, dtype = "float32") => symmetricUniform(rng, shape, bound, dtype);
}
