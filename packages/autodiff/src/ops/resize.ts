import type { FloatArray } from "../dtype.js";
import { argumentError, dtypeError, shapeError, show, showShape } from "../errors.js";
import {
  linearTaps,
  nearestTaps,
  resize2d as resize2dKernel,
  resize2dBackward as resize2dBackwardKernel,
  type ResizeGeometry,
} from "../kernels/resize.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { assertSizeWithinLimit, type Shape } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { asImages } from "./conv/batching.js";
import { expectShape } from "./conv/geometry.js";
import { booleanAttr, floatData, produce } from "./util.js";
import { resolvePair, type Pair } from "./window.js";

/** How resize2d fills an output cell: copy the nearest input cell, or blend the 2×2 around it. */
export type ResizeMode = "nearest" | "bilinear";

/** resize2d's attrs: exactly one of size and scaleFactor, and the mode. */
export interface Resize2dAttrs {
  /** The output [H, W] (a number for both). */
  readonly size?: Pair;
  /**
   * Output = floor(input · s) per axis ([sh, sw], or a number for both). As in PyTorch without
   * recompute_scale_factor, 1/s (not input/output) maps output to input coordinates.
   */
  readonly scaleFactor?: number | readonly [number, number];
  /** "nearest" (PyTorch's legacy 'nearest', not 'nearest-exact') or "bilinear". */
  readonly mode: ResizeMode;
  /** Bilinear only (default false): map corner cells' centres onto each other, not the edges. */
  readonly alignCorners?: boolean;
}

/** resize2dBackward's attrs: resize2d's, and the shape of its input, the result. */
export interface Resize2dBackwardAttrs extends Resize2dAttrs {
  /** The shape of resize2d's x, [N, C, H, W]: the shape of the result. */
  readonly inputShape: Shape;
}

/** The kernels' geometry and the output shape of one resize. */
interface ResizeLayout {
  readonly geometry: ResizeGeometry;
  readonly outShape: number[];
}

/** Requires [N, C, H, W] with positive C, H and W (N may be 0). */
function checkImageShape(op: string, name: string, shape: unknown): asserts shape is Shape {
  const valid =
    Array.isArray(shape) &&
    shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0);
  if (!valid || shape.length !== 4) {
    throw shapeError(op, `${name} must be 4-D [N, C, H, W], got shape ${show(shape)}`);
  }
  if (shape.slice(1).some((d) => d < 1)) {
    throw shapeError(
      op,
      `${name} must have positive channel, height and width sizes, got shape ${showShape(shape)}`,
    );
  }
}

function resolveScale(op: string, value: unknown): [number, number] {
  const pair = typeof value === "number" ? [value, value] : value;
  if (
    !Array.isArray(pair) ||
    pair.length !== 2 ||
    !pair.every((s) => typeof s === "number" && Number.isFinite(s) && s > 0)
  ) {
    throw argumentError(
      op,
      `scaleFactor must be a positive finite number or a pair of them, got ${show(value)}`,
    );
  }
  return [pair[0] as number, pair[1] as number];
}

/** Validates a resize of an input of `shape` (named `name` in errors) and resolves its taps. */
function resizeLayout(
  op: string,
  name: string,
  shape: unknown,
  attrs: Resize2dAttrs,
): ResizeLayout {
  checkImageShape(op, name, shape);
  const { mode, size, scaleFactor } = attrs;
  if (mode !== "nearest" && mode !== "bilinear") {
    throw argumentError(op, `mode must be "nearest" or "bilinear", got ${show(mode)}`);
  }
  // PyTorch rejects it too: nearest has no corners to align, and accepting it would hide a typo.
  if (mode === "nearest" && attrs.alignCorners !== undefined) {
    throw argumentError(
      op,
      `alignCorners applies to mode "bilinear" only, got alignCorners ` +
        `${show(attrs.alignCorners)} with mode "nearest"`,
    );
  }
  const alignCorners = booleanAttr(op, "alignCorners", attrs.alignCorners ?? false);
  if ((size === undefined) === (scaleFactor === undefined)) {
    const got = size === undefined ? "neither" : "both";
    throw argumentError(op, `give exactly one of size and scaleFactor, got ${got}`);
  }
  const [n, c, h, w] = shape as [number, number, number, number];
  let out: [number, number];
  let scales: [number, number] | [undefined, undefined] = [undefined, undefined];
  if (size !== undefined) {
    out = resolvePair(op, "size", size, 1);
  } else {
    scales = resolveScale(op, scaleFactor);
    out = [Math.floor(h * scales[0]), Math.floor(w * scales[1])];
    if (out[0] < 1 || out[1] < 1) {
      throw argumentError(
        op,
        `scaleFactor ${show(scaleFactor)} gives a ${out[0]}×${out[1]} output for the ${h}×${w} ` +
          `${name} (floor(size · scaleFactor)); each side must be at least 1`,
      );
    }
  }
  const outShape = [n, c, out[0], out[1]];
  assertSizeWithinLimit(op, outShape);
  // With N·C = 0 the check above passes planes of any size: bound one plane on its own too.
  assertSizeWithinLimit(op, out);
  const planes = n * c;
  const taps = (inSize: number, outSize: number, scale: number | undefined) => {
    // Nothing is read from an empty batch: no tables, however large its planes would be.
    if (planes === 0) return nearestTaps(inSize, 0, scale);
    return mode === "nearest"
      ? nearestTaps(inSize, outSize, scale)
      : linearTaps(inSize, outSize, alignCorners, scale);
  };
  const geometry: ResizeGeometry = {
    planes,
    nearest: mode === "nearest",
    h: taps(h, out[0], scales[0]),
    w: taps(w, out[1], scales[1]),
  };
  return { geometry, outShape };
}

/** The op applied to a batch of images [B, N, C, H, W] as B·N images, after checking a slice. */
function imagesBatch(
  op: string,
  name: string,
  x: Tensor,
  axis: number,
  apply: (images: Tensor) => Tensor,
): BatchResult<SingleOutput> {
  const slice = x.shape.filter((_, i) => i !== axis);
  // Else 3-D slices would pass as a batch of images, which the op rejects one slice at a time.
  checkImageShape(op, name, slice);
  return { y: asImages(x, axis, apply), axes: [0] };
}

/** Small resizes of both modes, by size or by scale factor, with an input that fits them. */
function resizeSamples(kit: SampleKit) {
  const { fc } = kit;
  const scale = fc.constantFrom(0.5, 0.75, 1, 1.5, 2, 2.5, 3);
  const sizing = fc.oneof(
    fc.record({ size: fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 })) }),
    fc.record({ scaleFactor: fc.oneof(scale, fc.tuple(scale, scale)) }),
  );
  return fc
    .record({
      shape: fc.tuple(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
      ),
      mode: fc.constantFrom<ResizeMode>("nearest", "bilinear"),
      alignCorners: fc.constantFrom(undefined, false, true),
      sizing,
    })
    .filter(({ shape, sizing }) => {
      if (!("scaleFactor" in sizing)) return true;
      const [sh, sw] = resolveScale("samples", sizing.scaleFactor);
      return Math.floor(shape[2] * sh) >= 1 && Math.floor(shape[3] * sw) >= 1;
    })
    .chain(({ shape, mode, alignCorners, sizing }) => {
      const corners = mode === "bilinear" && alignCorners !== undefined ? { alignCorners } : {};
      const attrs: Resize2dAttrs = { ...sizing, mode, ...corners };
      return kit.tensor(shape).map((x) => ({ x, attrs }));
    });
}

const resize2dOp = defineOp({
  name: "resize2d",
  inputs: ["x"],
  forward: ([x], attrs: Resize2dAttrs) => {
    const { geometry, outShape } = resizeLayout("resize2d", "x", x.shape, attrs);
    if (!geometry.nearest && x.dtype === "int32") {
      throw dtypeError(
        "resize2d",
        `x must be float32 or float64 for mode "bilinear" (only "nearest" takes int32), got int32`,
      );
    }
    return produce(x.dtype, outShape, (y) => resize2dKernel(x.buffer, geometry, y), "unspecified");
  },
  vjp: ({ dy, inputs: [x], attrs }) => [resize2dBackward(dy, { ...attrs, inputShape: x.shape })],
  batch: ({ inputs: [x], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    imagesBatch("resize2d", "x", x, axis!, (images): Tensor => resize2dOp(images, attrs)),
  samples: (kit) => resizeSamples(kit).map(({ x, attrs }) => ({ inputs: [x], attrs })),
});

const resize2dBackwardOp = defineOp({
  name: "resize2dBackward",
  inputs: ["dy"],
  forward: ([dy], attrs: Resize2dBackwardAttrs) => {
    const op = "resize2dBackward";
    const { inputShape, ...resize } = attrs;
    const data = floatData(op, "dy", dy);
    const { geometry, outShape } = resizeLayout(op, "inputShape", inputShape, resize);
    const why = `resize2d's output for inputShape ${showShape(inputShape)}`;
    expectShape(op, "dy", dy.shape, outShape, why);
    return produce(dy.dtype, [...inputShape], (dx) =>
      resize2dBackwardKernel(data, geometry, dx as FloatArray),
    );
  },
  // Linear, and the transpose of resize2d with the same attrs: the two are an adjoint pair.
  vjp: ({ dy, attrs: { inputShape: _, ...resize } }) => [resize2d(dy, resize)],
  batch: ({ inputs: [dy], axes: [axis], attrs }): BatchResult<SingleOutput> => {
    checkImageShape("resize2dBackward", "inputShape", attrs.inputShape);
    return imagesBatch("resize2dBackward", "dy", dy, axis!, (dys): Tensor =>
      resize2dBackwardOp(dys, {
        ...attrs,
        inputShape: [dys.shape[0]!, ...attrs.inputShape.slice(1)],
      }),
    );
  },
  samples: (kit) =>
    resizeSamples(kit).chain(({ x, attrs }) => {
      const { outShape } = resizeLayout("samples", "x", x.shape, attrs);
      return kit
        .tensor(outShape)
        .map((dy) => ({ inputs: [dy], attrs: { ...attrs, inputShape: x.shape } }));
    }),
});

/**
 * Resizes each plane of x [N, C, H, W] to `size`, or by `scaleFactor` (exactly one), as PyTorch's
 * F.interpolate: "nearest" copies cell floor(i · in/out) (its legacy 'nearest'), "bilinear" blends
 * the 2×2 cells around the source point. Gradient: resize2dBackward, the transpose.
 */
export function resize2d(x: TensorLike, attrs: Resize2dAttrs): Tensor {
  return resize2dOp(x, attrs);
}

/**
 * The vjp of resize2d for an input of `inputShape`: dx = 0, then every dy[n, c, i, j] is added,
 * times its weight, to each cell that output (i, j) read. Linear; its gradient is resize2d.
 */
export function resize2dBackward(dy: TensorLike, attrs: Resize2dBackwardAttrs): Tensor {
  return resize2dBackwardOp(dy, attrs);
}
