import { tensor, show, type Tensor } from "@tapegrad/autodiff";
import { checkIndex, type Dataset } from "../datasets/dataset.js";
import { argumentError, shapeError } from "../errors.js";
import { idValues } from "./ids.js";

/** Options of textWindows: the window length and the step between windows. */
export interface TextWindowsOptions {
  /** Tokens per window (the model's context length), ≥ 1. */
  readonly length: number;
  /** Tokens from one window's start to the next's (default `length`: windows do not overlap). */
  readonly stride?: number;
}

/** Next-token windows over an id sequence: sample i is [input, target], int32 [length] each. */
export interface TextWindows extends Dataset<[Tensor, Tensor]> {
  /** Tokens per window. */
  readonly windowLength: number;
  /** Tokens between the starts of consecutive windows. */
  readonly stride: number;
  getBatch(indices: Int32Array): [Tensor, Tensor];
}

/**
 * A dataset of fixed-length windows for next-token prediction: sample i is
 * (ids[i·stride … i·stride + length), ids[i·stride + 1 … i·stride + length + 1)), the target the
 * input shifted by one, so there are ⌊(n − length − 1)/stride⌋ + 1 windows. By default the stride
 * is the length: every token is a target once per epoch. `getBatch` gives [B, length] tensors.
 */
export function textWindows(
  ids: ArrayLike<number> | Tensor,
  options: TextWindowsOptions,
): TextWindows {
  const fn = "textWindows";
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(
      fn,
      `options must be an object such as { length: 64 }, got ${show(options)}`,
    );
  }
  const { length, stride = length } = options;
  if (!Number.isSafeInteger(length) || length < 1) {
    throw argumentError(fn, `length must be a positive integer, got ${show(length)}`);
  }
  if (!Number.isSafeInteger(stride) || stride < 1) {
    throw argumentError(fn, `stride must be a positive integer, got ${show(stride)}`);
  }
  const tokens = tokenIds(fn, ids);
  if (tokens.length < length + 1) {
    throw shapeError(
      fn,
      `ids has ${tokens.length} tokens; windows of length ${length} need at least ${length + 1} ` +
        `(the targets are the inputs shifted by one)`,
    );
  }
  const count = Math.floor((tokens.length - length - 1) / stride) + 1;

  // Rows of input and target for the windows at `indices`, copied into two [B, length] tensors.
  const windows = (indices: ArrayLike<number>, shape: number[]): [Tensor, Tensor] => {
    const input = new Int32Array(indices.length * length);
    const target = new Int32Array(indices.length * length);
    for (let b = 0; b < indices.length; b++) {
      const start = indices[b]! * stride;
      input.set(tokens.subarray(start, start + length), b * length);
      target.set(tokens.subarray(start + 1, start + length + 1), b * length);
    }
    return [tensor(input, { shape, copy: false }), tensor(target, { shape, copy: false })];
  };

  return {
    length: count,
    name: `textWindows(length ${length}, stride ${stride}, ${count} windows)`,
    windowLength: length,
    stride,
    get(index) {
      checkIndex(this, index);
      return windows([index], [length]);
    },
    getBatch(indices) {
      indices.forEach((i) => checkIndex(this, i));
      return windows(indices, [indices.length, length]);
    },
  };
}

/** A copy of the ids as an Int32Array, after checking that each is an integer id ≥ 0. */
function tokenIds(fn: string, ids: unknown): Int32Array {
  const values = idValues(fn, "ids", ids);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw argumentError(fn, `ids[${i}] = ${show(v)} is not a token id; expected an integer ≥ 0`);
    }
    out[i] = v;
  }
  return out;
}
