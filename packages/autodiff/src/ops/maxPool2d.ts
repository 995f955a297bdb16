import { kernels } from "../backends/backend.js";
import { argumentError, shapeError, showIndex, showShape } from "../errors.js";
import type { PoolPlanes } from "../kernels/pool.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { allocateUninitialized, type FloatArray } from "../dtype.js";
import {
  assertSizeWithinLimit,
  assertValidShape,
  shapeSize,
  shapesEqual,
  type Shape,
} from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { batchAt } from "./batching.js";
import { add, sub } from "./binary.js";
import { gather } from "./gather.js";
import { reshape } from "./reshape.js";
import { batchFirst } from "./transpose.js";
import { assertFloat, assertInt, produce } from "./util.js";
import { pool2dLayout, pool2dSamples, type Pool2dAttrs } from "./pool2d.js";
import type { Pair } from "./window.js";

export interface MaxPool2dAttrs extends Pool2dAttrs {
  /** Spacing between a window's cells (default 1). */
  readonly dilation?: Pair;
}

const maxPool2dOp = defineOp({
  name: "maxPool2d",
  inputs: ["x"],
  forward: ([x], attrs: MaxPool2dAttrs) => {
    const { geometry, outShape } = pool2dLayout("maxPool2d", x.shape, attrs, true);
    // Every window writes its maximum and its index: neither array needs zero-filling.
    const argmax = allocateUninitialized("int32", shapeSize(outShape)) as Int32Array;
    const y = produce(
      x.dtype,
      outShape,
      (out) => kernels().maxPool2d(x.buffer, geometry, out, argmax),
      "unspecified",
    );
    // Flat indices into x, one per output element: all the vjp needs.
    return { y, saved: new Tensor(argmax, outShape) };
  },
  // dy goes to each window's argmax, summed where windows overlap.
  vjp: ({ dy, inputs: [x], saved }) => [maxPool2dBackwardOp(dy, saved, { inputShape: x.shape })],
  // The batch in front and folded into the planes, for one call. Its argmax indices point into
  // the folded input: slice b's move back by b slices' sizes, as maxPool2dBackward's rule expects.
  batch: ({ inputs: [x], axes, size, attrs, applyWithResiduals }): BatchResult<SingleOutput> => {
    const slice = x.shape.filter((_, i) => i !== axes[0]);
    const planes = shapeSize(slice.slice(0, -2));
    const folded = reshape(batchFirst(x, axes[0]!), [size * planes, ...slice.slice(-2)]);
    const { ys, saved } = applyWithResiduals([folded], attrs);
    const outShape = [size, ...slice.slice(0, -2), ...ys[0]!.shape.slice(-2)];
    const starts = Int32Array.from({ length: size }, (_, b) => b * shapeSize(slice));
    const offsets = new Tensor(starts, [size, ...outShape.slice(1).map(() => 1)]);
    const argmax = sub(reshape(saved as Tensor, outShape), offsets);
    return { y: reshape(ys[0]!, outShape), axes: [0], saved: { value: argmax, axis: 0 } };
  },
  samples: (kit) =>
    pool2dSamples(kit, { dilated: true, distinct: true }).map(({ x, attrs }) => ({
      inputs: [x],
      attrs,
    })),
});

/** What maxPool2dBackward needs besides dy and the indices: the shape it scatters into. */
export interface MaxPool2dBackwardAttrs {
  /** The shape of maxPool2d's x: the shape of the result. */
  readonly inputShape: Shape;
}

/** dy and dx as stacks of planes: both of rank ≥ 2 with the same leading axes; else null. */
function poolPlanes(dyShape: Shape, inputShape: Shape): PoolPlanes | null {
  const rank = inputShape.length;
  if (rank < 2 || dyShape.length !== rank) return null;
  if (!shapesEqual(dyShape.slice(0, -2), inputShape.slice(0, -2))) return null;
  return {
    planes: shapeSize(inputShape.slice(0, -2)),
    height: inputShape[rank - 2]!,
    width: inputShape[rank - 1]!,
    outH: dyShape[rank - 2]!,
    outW: dyShape[rank - 1]!,
  };
}

const maxPool2dBackwardOp = defineOp({
  name: "maxPool2dBackward",
  inputs: ["dy", "argmax"],
  forward: ([dy, argmax], { inputShape }: MaxPool2dBackwardAttrs) => {
    const op = "maxPool2dBackward";
    assertFloat(op, "dy", dy);
    assertInt(op, "argmax", argmax);
    if (!shapesEqual(dy.shape, argmax.shape)) {
      throw shapeError(
        op,
        `dy has shape ${showShape(dy.shape)} but argmax has shape ${showShape(argmax.shape)}; ` +
          "they must match (one index per output of maxPool2d)",
      );
    }
    if (!Array.isArray(inputShape)) throw argumentError(op, "inputShape must be an array");
    assertValidShape(op, inputShape);
    assertSizeWithinLimit(op, inputShape);
    const indices = argmax.buffer as Int32Array;
    const planes = poolPlanes(dy.shape, inputShape);
    const kernel = kernels().maxPool2dBackward;
    return produce(
      dy.dtype,
      [...inputShape],
      (dx) => {
        const bad = kernel(dy.buffer as FloatArray, indices, dx as FloatArray, planes);
        if (bad >= 0) {
          throw argumentError(
            op,
            `argmax${showIndex(argmax.shape, bad)} = ${indices[bad]} is out of range for ` +
              `inputShape ${showShape(inputShape)}; expected 0 ≤ index < ${shapeSize(inputShape)}`,
          );
        }
      },
      "unspecified",
    );
  },
  // Linear in dy, and gather at the same indices is its transpose.
  vjp: ({ dy: g, inputs: [, argmax], needsGrad }) => [
    needsGrad[0] ? gather(reshape(g, [g.size]), argmax) : null,
    null,
  ],
  // One scatter into [B, ...inputShape]: slice b's flat indices move by b slices' sizes.
  batch: ({ inputs: [dy, argmax], axes, size, attrs }): BatchResult<SingleOutput> => {
    const indices = batchAt(argmax, axes[1] ?? null, 0, size);
    const step = shapeSize(attrs.inputShape);
    const offsets = Int32Array.from({ length: size }, (_, b) => b * step);
    const ones = indices.shape.slice(1).map(() => 1);
    const inputShape = [size, ...attrs.inputShape];
    const y = maxPool2dBackwardOp(
      batchAt(dy, axes[0] ?? null, 0, size),
      add(indices, new Tensor(offsets, [size, ...ones])),
      { inputShape },
    );
    return { y, axes: [0] };
  },
  samples: (kit) =>
    pool2dSamples(kit, { dilated: true, distinct: true }).chain(({ x, attrs }) => {
      const { saved: argmax } = maxPool2dOp.definition.forward([x], attrs) as { saved: Tensor };
      return kit.tensor(argmax.shape).map((dy) => ({
        inputs: [dy, argmax],
        attrs: { inputShape: x.shape },
      }));
    }),
});

/**
 * maxPool2d's gradient with respect to x: dy[i] added at flat index argmax[i] of a zero tensor
 * of `inputShape` (the indices maxPool2d's forward keeps). Every index must lie inside it.
 * Gradient: d(dy) = gather of the cotangent at argmax.
 */
export function maxPool2dBackward(
  dy: TensorLike,
  argmax: Tensor,
  attrs: MaxPool2dBackwardAttrs,
): Tensor {
  return maxPool2dBackwardOp(dy, argmax, attrs);
}

/**
 * Max over kh×kw windows of each plane of x ([N, C, H, W] or [C, H, W]); padded cells never win.
 * Gradient: dy goes to the first maximum of each window in row-major order (as PyTorch), summed
 * where windows overlap; a NaN counts as the maximum (the first NaN, and it propagates).
 */
export function maxPool2d(x: TensorLike, attrs: MaxPool2dAttrs): Tensor {
  return maxPool2dOp(x, attrs);
}
