import { allocate, type DType } from "./dtype.js";
import { Tensor } from "./tensor.js";

/**
 * A plain number as a 0-d tensor that takes its dtype from the tensors beside it (a "weak" type,
 * as in JAX): `mul(x, 2)` keeps x's dtype; a fraction next to int32 tensors becomes float32.
 */
export function scalarLike(value: number, others: readonly Tensor[]): Tensor {
  let dtype: DType | undefined;
  for (const t of others) {
    if (t.dtype === "float64") dtype = "float64";
    else if (t.dtype === "float32" && dtype !== "float64") dtype = "float32";
  }
  if (dtype === undefined)
    dtype = others.length > 0 && Number.isInteger(value) ? "int32" : "float32";
  const buffer = allocate(dtype, 1);
  buffer[0] = value;
  return new Tensor(buffer, []);
}
