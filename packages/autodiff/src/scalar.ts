import { allocate, type DType } from "./dtype.js";
import { Tensor } from "./tensor.js";

/**
 * A plain number as a 0-d tensor that takes its dtype from the tensors beside it in the op (a
 * "weak" type, as in JAX), so that a number never changes a result's precision:
 * - it takes the widest float dtype among them: `mul(x, 0.2)` keeps x's float64 (0.2 is not
 *   rounded to float32 first) or float32;
 * - int32 tensors (conditions, indices, comparison results) hold no precision to follow: beside
 *   only those an integer is int32 and a fraction float32 (`add(i, 1)` stays int32), and a lone
 *   number is float32.
 * A number therefore knows the precision it should have only when it meets a float tensor in the
 * same op. Code that builds constants for a float computation must let them meet one: a vjp
 * writes `where(x > 0, dy, mul(dy, alpha))`, not `mul(dy, where(x > 0, 1, alpha))`, whose
 * where sees only an int32 condition and would round alpha to float32.
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
