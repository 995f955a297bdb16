import type { DType } from "@tapegrad/autodiff";

// The safetensors layout (https://github.com/huggingface/safetensors):
//   [8 bytes] N, the header length, unsigned 64-bit little-endian
//   [N bytes] a UTF-8 JSON object: name → { dtype, shape, data_offsets: [begin, end] },
//             plus an optional "__metadata__" object of strings; padded with spaces
//   [rest]    the data buffer: each tensor's elements, row-major, little-endian, at
//             [begin, end) counted from the buffer's start; together they cover it exactly.

/** Largest header accepted, as in the reference implementation (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * The `__metadata__` key that marks plain-number leaves. Its value is a JSON array of names
 * (`["epoch","optimizer.step"]`); each names a float64 0-d tensor that loads back as a number.
 * Other safetensors readers see ordinary scalar tensors.
 */
export const NUMBERS_KEY = "tapegrad.numbers";

/** The file's dtype code for each tensor dtype. */
export const FILE_DTYPE: Readonly<Record<DType, string>> = {
  float32: "F32",
  float64: "F64",
  int32: "I32",
};

/** The tensor dtype for each file dtype code this reader accepts. */
export const TENSOR_DTYPE: ReadonlyMap<string, DType> = new Map([
  ["F32", "float32"],
  ["F64", "float64"],
  ["I32", "int32"],
]);

/** Bytes per element of each dtype. */
export const ELEMENT_BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4 };

/** The number of elements of `shape` (1 for a scalar). */
export function shapeProduct(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}
