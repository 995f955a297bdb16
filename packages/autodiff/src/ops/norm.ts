import { argumentError, shapeError, show, showShape } from "../errors.js";
import { shapeSize } from "../shape.js";
import { Tensor, tensor, type TensorLike } from "../tensor.js";
import { reducedShapes, sum, type ReduceAttrs } from "./broadcast.js";
import { cast } from "./cast.js";
import { notEqual } from "./compare.js";
import { powOrZero } from "./moments.js";
import { max, min } from "./reduce.js";
import { abs, square } from "./unary.js";
import { optionsArgument } from "./util.js";

/** Options of norm: the order, the reduced axes (all by default) and keepdims. */
export interface NormOptions extends ReduceAttrs {
  /** 2 (default), 1, Infinity, −Infinity, 0 (count of non-zeros) or any p > 0. */
  readonly ord?: number;
}

function checkOrd(ord: unknown): number {
  const valid = typeof ord === "number" && (ord >= 0 || ord === -Infinity);
  if (!valid) {
    throw argumentError(
      "norm",
      `ord must be 0, a positive number, Infinity or -Infinity, got ${show(ord)}`,
    );
  }
  return ord;
}

/**
 * Vector norm over `axis` (all axes by default), as torch.linalg.vector_norm: ord 2 (default)
 * √Σx², 1 Σ|x|, Infinity max|x|, −Infinity min|x|, 0 the count of non-zeros, any other p > 0
 * (Σ|x|^p)^(1/p). int32 computes in float32. Gradient: through abs, pow, sum, max and min, with
 * 0 (not NaN) where the norm or an element is 0, as PyTorch; the ±∞ norms split dy among ties;
 * ord 0 has none.
 */
export function norm(x: TensorLike, options: NormOptions = {}): Tensor {
  const { ord = 2, axis, keepdims } = optionsArgument("norm", options);
  const p = checkOrd(ord);
  if (!(x instanceof Tensor) && typeof x !== "number") {
    throw argumentError("norm", `x must be a Tensor or a number, got ${show(x)}`);
  }
  const given = typeof x === "number" ? tensor(x) : x;
  const values = given.dtype === "int32" ? cast(given, "float32") : given;
  const reduce = { axis, keepdims };
  const { axes, out } = reducedShapes("norm", values.shape, reduce);
  if (p === 0) return sum(cast(notEqual(values, 0), values.dtype), reduce);
  if (p === 1) return sum(abs(values), reduce);
  if (p === 2) return powOrZero(sum(square(values), reduce), 0.5);
  if (p === Infinity || p === -Infinity) {
    // max and min have no identity: PyTorch rejects an empty reduction for these orders too.
    const empty = axes.find((a) => values.shape[a] === 0);
    if (empty !== undefined && shapeSize(out) > 0) {
      throw shapeError(
        "norm",
        `cannot take the ${ord} norm of x of shape ${showShape(values.shape)} over axis ` +
          `${empty} of size 0: the ${p > 0 ? "maximum" : "minimum"} of no elements is undefined`,
      );
    }
    return p > 0 ? max(abs(values), reduce) : min(abs(values), reduce);
  }
  return powOrZero(sum(powOrZero(abs(values), p), reduce), 1 / p);
}
