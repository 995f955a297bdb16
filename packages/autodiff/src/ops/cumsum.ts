import { argumentError, show } from "../errors.js";
import { cumsum as cumsumKernel } from "../kernels/scan.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { normalizeAxis } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { booleanAttr, produce } from "./util.js";

/** Attrs of cumsum: the axis to sum along, and the direction. */
export interface CumsumAttrs {
  /** The axis (negative counts from the end); a scalar takes 0 or −1, as torch.cumsum. */
  readonly axis: number;
  /** Sum from the last position backwards (default false). */
  readonly reverse?: boolean;
}

/** `axis` resolved against x's rank; a scalar has one position, addressed as axis 0 or −1. */
function cumsumAxis(axis: unknown, rank: number): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw argumentError("cumsum", `axis must be an integer, got ${show(axis)}`);
  }
  if (rank === 0 && axis !== 0 && axis !== -1) {
    throw argumentError("cumsum", `axis ${axis} is out of range for a scalar (0 or -1)`);
  }
  return rank === 0 ? 0 : normalizeAxis("cumsum", axis, rank);
}

function reverseAttr(reverse: unknown): boolean {
  return reverse === undefined ? false : booleanAttr("cumsum", "reverse", reverse);
}

const cumsumOp = defineOp({
  name: "cumsum",
  inputs: ["x"],
  forward: ([x], attrs: CumsumAttrs) => {
    const along = cumsumAxis(attrs.axis, x.ndim);
    const reverse = reverseAttr(attrs.reverse);
    return produce(
      x.dtype,
      x.shape,
      (out) => cumsumKernel(x.buffer, x.shape, along, reverse, out),
      "unspecified",
    );
  },
  // y_i = Σ_{j ≤ i} x_j, so dx_j = Σ_{i ≥ j} dy_i: the sum runs the other way.
  vjp: ({ dy, attrs: { axis, reverse } }): Tensor[] => [
    cumsumOp(dy, { axis, reverse: !reverseAttr(reverse) }),
  ],
  // The slices' axis shifted past the batch axis, which stays where it is.
  batch: ({ inputs: [x], axes: [b], attrs }): BatchResult<SingleOutput> => {
    const along = cumsumAxis(attrs.axis, x.ndim - 1);
    const reverse = reverseAttr(attrs.reverse);
    // Slices that are scalars are their own sums.
    if (x.ndim === 1) return { y: x, axes: [b!] };
    const y: Tensor = cumsumOp(x, { axis: along < b! ? along : along + 1, reverse });
    return { y, axes: [b!] };
  },
  samples: (kit) =>
    kit
      .shape()
      .chain((shape) => {
        const rank = Math.max(shape.length, 1);
        return kit.fc.tuple(
          kit.tensor(shape),
          kit.fc.integer({ min: -rank, max: rank - 1 }),
          kit.fc.boolean(),
        );
      })
      .map(([x, axis, reverse]) => ({ inputs: [x], attrs: { axis, reverse } })),
});

/**
 * Inclusive cumulative sum along `axis`, as torch.cumsum: y[…, i, …] = Σ_{j ≤ i} x[…, j, …], or
 * Σ_{j ≥ i} with `reverse`; float32/float64, and int32 sums as int32 (wrapping, no gradient).
 * Gradient: the cumsum of dy in the other direction.
 */
export function cumsum(x: TensorLike, attrs: CumsumAttrs): Tensor {
  return cumsumOp(x, attrs);
}
