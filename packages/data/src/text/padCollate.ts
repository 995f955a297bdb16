import { tensor, show, type Tensor } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import { idValues } from "./ids.js";

/** Options of padCollate: the padding id and an optional cap on the length. */
export interface PadCollateOptions {
  /** The id written after each sequence's end (default 0); the mask tells it from a real 0. */
  readonly padValue?: number;
  /** Cut sequences longer than this (a positive integer; default: no cap). */
  readonly maxLength?: number;
}

/** A batch of variable-length sequences, padded on the right: all int32. */
export interface PaddedBatch {
  /** The ids, [B, T]: sequence b in row b, then padValue. */
  readonly ids: Tensor;
  /** 1 where ids holds a real token, 0 at padding, [B, T]. */
  readonly mask: Tensor;
  /** The real tokens of each row (after any cut), the sum of its mask, [B]. */
  readonly lengths: Tensor;
}

/**
 * Pads B token sequences (arrays, Int32Arrays or 1-D int32 tensors) on the right to the longest,
 * T = max length (at most maxLength, cutting longer ones at the end), and returns ids, mask and
 * lengths. A standalone function: dataLoader collates with `collate`, which needs equal shapes.
 */
export function padCollate(
  sequences: readonly (ArrayLike<number> | Tensor)[],
  options: PadCollateOptions = {},
): PaddedBatch {
  const fn = "padCollate";
  if (!Array.isArray(sequences)) {
    throw argumentError(fn, `sequences must be an array of id sequences, got ${show(sequences)}`);
  }
  if (sequences.length === 0) throw argumentError(fn, "cannot collate an empty batch");
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(
      fn,
      `options must be an object such as { padValue: 0 }, got ${show(options)}`,
    );
  }
  const { padValue = 0, maxLength = Infinity } = options;
  if (!Number.isInteger(padValue) || (padValue | 0) !== padValue) {
    throw argumentError(fn, `padValue must be an int32 integer, got ${show(padValue)}`);
  }
  if (maxLength !== Infinity && (!Number.isSafeInteger(maxLength) || maxLength < 1)) {
    throw argumentError(fn, `maxLength must be a positive integer, got ${show(maxLength)}`);
  }

  const rows = sequences.map((s, b) => idValues(fn, `sequences[${b}]`, s));
  const longest = rows.reduce((m, row) => Math.max(m, row.length), 0);
  const width = Math.min(longest, maxLength);
  const batch = rows.length;
  const ids = new Int32Array(batch * width).fill(padValue);
  const mask = new Int32Array(batch * width);
  const lengths = new Int32Array(batch);
  rows.forEach((row, b) => {
    const n = Math.min(row.length, width);
    for (let t = 0; t < n; t++) {
      const v = row[t]!;
      if (!Number.isInteger(v) || (v | 0) !== v) {
        throw argumentError(fn, `sequences[${b}][${t}] = ${show(v)} is not an int32 integer`);
      }
      ids[b * width + t] = v;
      mask[b * width + t] = 1;
    }
    lengths[b] = n;
  });
  const shape = [batch, width];
  return {
    ids: tensor(ids, { shape, copy: false }),
    mask: tensor(mask, { shape, copy: false }),
    lengths: tensor(lengths, { copy: false }),
  };
}
