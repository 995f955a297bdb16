import { add, slice, tensor, type FloatDType, type Tensor } from "@tapegrad/autodiff";
import { normal, type Initializer } from "../init.js";
import { defineLayer, statelessLayer, type Layer } from "../layer.js";
import {
  argumentError,
  drawParam,
  floatDType,
  initializerOption,
  optionsObject,
  paramOf,
  positiveInt,
  shapeError,
  showShape,
  type NoState,
} from "./check.js";

/** The most elements a tensor holds (2³¹ − 1), as @tapegrad/autodiff allows. */
const MAX_TABLE_SIZE = 2 ** 31 - 1;

/** Options of both positional encodings: the longest sequence and the model width. */
export interface PositionalOptions {
  /** The longest sequence the table covers; a longer one is an error. */
  readonly maxLength: number;
  /** D, the size of the input's last axis. */
  readonly dim: number;
}

/** Options of learnedPositionalEmbedding. */
export interface LearnedPositionalOptions extends PositionalOptions {
  /** Default: N(0, 0.02²), GPT-2's initialisation of its position table. */
  readonly weightInit?: Initializer;
  /** Default "float32". */
  readonly dtype?: FloatDType;
}

/** learnedPositionalEmbedding's params. */
export interface LearnedPositionalParams {
  /** The table, [maxLength, D]: row t is added at position t. */
  readonly weight: Tensor;
}

/**
 * The fixed table of "Attention Is All You Need" (§3.5), [maxLength, dim]:
 * PE[pos, 2i] = sin(pos / 10000^(2i/dim)) and PE[pos, 2i+1] = cos(pos / 10000^(2i/dim)).
 * An odd dim ends with a sine column.
 */
export function sinusoidalTable(
  maxLength: number,
  dim: number,
  dtype: FloatDType = "float32",
): Tensor {
  const where = "sinusoidalTable";
  positiveInt(where, "maxLength", maxLength);
  positiveInt(where, "dim", dim);
  floatDType(where, dtype);
  if (maxLength * dim > MAX_TABLE_SIZE) {
    throw argumentError(
      where,
      `maxLength·dim must be at most ${MAX_TABLE_SIZE} (a tensor's largest size), got ` +
        `${maxLength}·${dim}`,
    );
  }
  const size = maxLength * dim;
  const values = dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
  // Columns 2i and 2i + 1 share the wavelength 10000^(2i/dim).
  const wavelengths = Array.from({ length: dim }, (_, j) => Math.pow(10000, (j - (j % 2)) / dim));
  for (let pos = 0; pos < maxLength; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / wavelengths[j]!;
      values[pos * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return tensor(values, { shape: [maxLength, dim] });
}

/** T, the length of x [B, T, D] or [T, D], after checking the layout and the table's length. */
function sequenceLength(where: string, x: Tensor, maxLength: number, dim: number): number {
  if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== dim) {
    throw shapeError(
      where,
      `x must be [B, T, ${dim}] or [T, ${dim}], got shape ${showShape(x.shape)}`,
    );
  }
  const length = x.shape[x.ndim - 2]!;
  if (length > maxLength) {
    throw shapeError(
      where,
      `sequence length ${length} is longer than maxLength ${maxLength} (x has shape ` +
        `${showShape(x.shape)})`,
    );
  }
  return length;
}

/**
 * Adds the fixed sinusoidal table: y = x + PE[:T] for x [B, T, D] or [T, D], PE as in
 * `sinusoidalTable`. No params; the gradient to x is dy itself.
 */
export function sinusoidalPositionalEncoding(options: PositionalOptions): Layer<NoState, NoState> {
  const where = "sinusoidalPositionalEncoding";
  optionsObject(where, options);
  const maxLength = positiveInt(where, "maxLength", options.maxLength);
  const dim = positiveInt(where, "dim", options.dim);
  // Built on use and only as long as the longest sequence seen, so that a generous maxLength
  // costs nothing; one per dtype, so that float64 inputs get a float64 table.
  const tables = new Map<FloatDType, Tensor>();
  const tableFor = (dtype: FloatDType, length: number) => {
    let table = tables.get(dtype);
    if (table === undefined || table.shape[0]! < length) {
      table = sinusoidalTable(Math.max(length, 1), dim, dtype);
      tables.set(dtype, table);
    }
    return table;
  };
  return statelessLayer(where, (x) => {
    const length = sequenceLength(where, x, maxLength, dim);
    const table = tableFor(x.dtype === "float64" ? "float64" : "float32", length);
    return add(x, slice(table, [0, 0], [length, dim]));
  });
}

/**
 * Adds a trained position table: y = x + weight[:T] for x [B, T, D] or [T, D], weight
 * [maxLength, D]. Gradient: dy summed over the batch goes to the first T rows of weight.
 */
export function learnedPositionalEmbedding(
  options: LearnedPositionalOptions,
): Layer<LearnedPositionalParams, NoState> {
  const where = "learnedPositionalEmbedding";
  optionsObject(where, options);
  const maxLength = positiveInt(where, "maxLength", options.maxLength);
  const dim = positiveInt(where, "dim", options.dim);
  const dtype = floatDType(where, options.dtype ?? "float32");
  initializerOption(where, "weightInit", options.weightInit);
  const weightInit = options.weightInit ?? normal({ std: 0.02 });
  const weightShape = [maxLength, dim];

  return defineLayer<LearnedPositionalParams, NoState>({
    kind: where,
    init: (rng) => ({
      params: { weight: drawParam(where, "weight", weightInit, rng, weightShape, dtype) },
      state: {},
    }),
    applyWithState: (params, state, x) => {
      const length = sequenceLength(where, x, maxLength, dim);
      const weight = paramOf(where, params, "weight", weightShape);
      return [add(x, slice(weight, [0, 0], [length, dim])), state];
    },
  });
}
