import { isDType, isFloat, type DType } from "../dtype.js";
import { argumentError, show } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { produce } from "./util.js";

interface CastAttrs {
  readonly dtype: DType;
}

const castOp = defineOp({
  name: "cast",
  inputs: ["x"],
  forward: ([x], { dtype }: CastAttrs) => {
    if (!isDType(dtype))
      throw argumentError("cast", `dtype must be float32, float64 or int32, got ${show(dtype)}`);
    if (dtype === x.dtype) return x;
    // Float → int truncates toward zero, as typed arrays do.
    return produce(dtype, x.shape, (out) => {
      if (dtype === "int32") for (let i = 0; i < out.length; i++) out[i] = Math.trunc(x.buffer[i]!);
      else out.set(x.buffer);
    });
  },
  // Rounding to the output's dtype is all a cast does to one element.
  elementwise: () => (v) => v,
  vjp: ({ dy, inputs: [x] }) => [isFloat(x.dtype) ? cast(dy, x.dtype) : null],
  batch: ({ inputs: [x], axes, attrs }): BatchResult<SingleOutput> => ({
    y: castOp(x, attrs),
    axes,
  }),
  // Finite differences run in float64, where rounding to float32 would swamp them.
  samples: (kit) =>
    kit.anyTensor().map((x) => ({ inputs: [x], attrs: { dtype: "float64" as DType } })),
});

/** x converted to `dtype`. Gradient: dy converted back (none into int32). */
export function cast(x: TensorLike, dtype: DType): Tensor {
  return castOp(x, { dtype });
}
