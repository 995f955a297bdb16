import { TapegradError } from "./errors.js";

/** Element types a tensor can hold. Floats are differentiable; int32 carries indices and labels. */
export type DType = "float32" | "float64" | "int32";

/** The differentiable dtypes. */
export type FloatDType = "float32" | "float64";
/** The storage of a tensor of each dtype: Float32Array, Float64Array or Int32Array. */
export type TypedArray = Float32Array | Float64Array | Int32Array;
/** The storage of a float tensor. */
export type FloatArray = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32"];

/**
 * The most elements one tensor may hold, 2^31 − 1 (so every index fits in an int32). Larger
 * results are rejected before anything is allocated.
 */
export const MAX_TENSOR_SIZE = 2 ** 31 - 1;

/**
 * Allocates a zero-filled buffer of `size` elements for `dtype`: INVALID_ARGUMENT past
 * MAX_TENSOR_SIZE, OUT_OF_MEMORY when the host cannot provide the memory.
 */
export function allocate(dtype: DType, size: number): TypedArray {
  if (!(Number.isSafeInteger(size) && size >= 0 && size <= MAX_TENSOR_SIZE)) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `cannot make a ${dtype} tensor of ${size} elements: a tensor holds at most ${MAX_TENSOR_SIZE}`,
    );
  }
  try {
    switch (dtype) {
      case "float32":
        return new Float32Array(size);
      case "float64":
        return new Float64Array(size);
      case "int32":
        return new Int32Array(size);
    }
  } catch (error) {
    const bytes = size * bytesPerElement(dtype);
    throw new TapegradError(
      "OUT_OF_MEMORY",
      `cannot allocate a ${dtype} tensor of ${size} elements (${bytes} bytes): out of memory`,
      { cause: error },
    );
  }
}

export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  return "int32";
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== "int32";
}

export function isDType(value: unknown): value is DType {
  return value === "float32" || value === "float64" || value === "int32";
}

/** The result type of a binary op: the wider float wins; int32 only when both are int32. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === "float64" || b === "float64") return "float64";
  return "float32";
}

/** Bytes per element, as stored and as written to files. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}
