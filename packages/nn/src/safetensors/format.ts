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

/**
 * Each file dtype code this reader accepts: the tensor dtype it loads as and its bytes per
 * element. Half precision (F16, BF16) loads as float32, which holds every such value exactly;
 * the integer and boolean codes load as int32, and an I64 value that does not fit is an error.
 */
export const FILE_CODES: ReadonlyMap<string, { readonly dtype: DType; readonly bytes: number }> =
  new Map([
    ["F64", { dtype: "float64", bytes: 8 }],
    ["F32", { dtype: "float32", bytes: 4 }],
    ["F16", { dtype: "float32", bytes: 2 }],
    ["BF16", { dtype: "float32", bytes: 2 }],
    ["I64", { dtype: "int32", bytes: 8 }],
    ["I32", { dtype: "int32", bytes: 4 }],
    ["I8", { dtype: "int32", bytes: 1 }],
    ["U8", { dtype: "int32", bytes: 1 }],
    ["BOOL", { dtype: "int32", bytes: 1 }],
  ]);

/** Bytes per element of each tensor dtype, as tapegrad writes it. */
export const ELEMENT_BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4 };

/** The number of elements of `shape` (1 for a scalar). */
export function shapeProduct(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}
