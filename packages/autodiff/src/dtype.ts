/** Element types a tensor can hold. Floats are differentiable; int32 carries indices and labels. */
export type DType = "float32" | "float64" | "int32";

export type FloatDType = "float32" | "float64";
export type TypedArray = Float32Array | Float64Array | Int32Array;
export type FloatArray = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32"];

/** Allocates a zero-filled buffer of `size` elements for `dtype`. */
export function allocate(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
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
