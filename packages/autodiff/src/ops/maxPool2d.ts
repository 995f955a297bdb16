import { kernels } from "../backends/backend.js";
import { argumentError, shapeError, show, showIndex, showShape } from "../errors.js";
import type { PoolGeometry, PoolPlanes } from "../kernels/pool.js";
import { defineOp } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { allocateUninitialized, type FloatArray } from "../dtype.js";
import {
  assertSizeWithinLimit,
  assertValidShape,
  shapeSize,
  shapesEqual,
  type Shape,
} from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { gather } from "./gather.js";
import { reshape } from "./reshape.js";
import { assertFloat, assertInt, booleanAttr, produce } from "./util.js";
import { axisGeometry, resolvePair, type AxisGeometry, type Pair } from "./window.js";

/** The window attrs every 2-D pooling op takes; a number means the same for height and width. */
export interface Pool2dAttrs {
  /** Window size [kh, kw]; a number means a square window. */
  readonly kernelSize: Pair;
  /** Default: kernelSize (non-overlapping windows). */
  readonly stride?: Pair;
  /** Implicit padding on both sides of each axis, at most half the kernel (default 0). */
  readonly padding?: Pair;
  /** Round the output size up, keeping a last partial window that starts inside the input. */
  readonly ceilMode?: boolean;
}

export interface MaxPool2dAttrs extends Pool2dAttrs {
  /** Spacing between a window's cells (default 1). */
  readonly dilation?: Pair;
}

/** A resolved pooling: the kernels' geometry and the output shape. */
export interface Pool2dLayout {
  readonly geometry: PoolGeometry;
  readonly outShape: number[];
}

/** Requires `[C, H, W]` or `[N, C, H, W]`. */
export function assertPoolInput(op: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 3 && shape.length !== 4) {
    throw shapeError(
      op,
      `${name} must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape ${showShape(shape)}`,
    );
  }
}

/**
 * Validates pooling attrs for an input of `shape` ([C, H, W] or [N, C, H, W]) and resolves the
 * geometry with window.ts. `dilation` is only read when `dilated` (avgPool2d has none).
 */
export function pool2dLayout(
  op: string,
  shape: readonly number[],
  attrs: MaxPool2dAttrs,
  dilated: boolean,
): Pool2dLayout {
  assertPoolInput(op, "x", shape);
  const kernel = resolvePair(op, "kernelSize", attrs.kernelSize, 1);
  const stride = attrs.stride === undefined ? kernel : resolvePair(op, "stride", attrs.stride, 1);
  const padding = resolvePair(op, "padding", attrs.padding ?? 0, 0);
  const dilation = dilated ? resolvePair(op, "dilation", attrs.dilation ?? 1, 1) : [1, 1];
  const ceilMode = booleanAttr(op, "ceilMode", attrs.ceilMode ?? false);
  const rank = shape.length;
  const axes = (["height", "width"] as const).map((axisName, a) => {
    const k = kernel[a]!;
    const p = padding[a]!;
    // PyTorch's rule: more padding would allow windows that hold padding only.
    if (2 * p > k) {
      throw argumentError(
        op,
        `padding ${p} is more than half of kernelSize ${k} along the ${axisName} ` +
          `(at most ${Math.floor(k / 2)})`,
      );
    }
    const geometry = axisGeometry(op, axisName, {
      size: shape[rank - 2 + a]!,
      kernel: k,
      stride: stride[a]!,
      dilation: dilation[a]!,
      padBefore: p,
      padAfter: p,
      ceilMode,
    });
    assertWindowsTouchInput(op, axisName, geometry);
    return geometry;
  });
  const [h, w] = axes as [AxisGeometry, AxisGeometry];
  const planes = shapeSize(shape.slice(0, -2));
  const outShape = [...shape.slice(0, -2), h.out, w.out];
  assertSizeWithinLimit(op, outShape);
  return { geometry: { planes, h, w }, outShape };
}

/**
 * Dilated taps can step over a small input entirely (kernel 2, dilation 3, padding 1 on 2
 * cells: taps −1 and 2). Such a window has no maximum, so it is an error rather than −∞.
 */
function assertWindowsTouchInput(op: string, axisName: string, a: AxisGeometry): void {
  if (a.dilation === 1) return;
  for (let o = 0; o < a.out; o++) {
    const start = o * a.stride - a.padBefore;
    const first = start < 0 ? start + Math.ceil(-start / a.dilation) * a.dilation : start;
    if (first < a.size) continue;
    const end = start + a.dilation * (a.kernel - 1);
    const what = axisName === "height" ? "row" : "column";
    throw shapeError(
      op,
      `the window of output ${what} ${o} (input ${what}s ${start}…${end} ` +
        `with dilation ${a.dilation}) covers only padding, no cell of the input ${axisName} ${a.size}`,
    );
  }
}

/** Whether `pool2dLayout` accepts this configuration (for sample generators). */
function isValidLayout(shape: readonly number[], attrs: MaxPool2dAttrs, dilated: boolean) {
  try {
    pool2dLayout("samples", shape, attrs, dilated);
    return true;
  } catch {
    return false;
  }
}

/**
 * Random small pooling configurations (rank 3 or 4, kernels 1–3, strides, padding, ceilMode,
 * dilation when `dilated`, sometimes the default stride) with a float64 input, for the
 * registry-wide gradient check. `distinct` avoids tied maxima, where max pooling has a kink.
 */
export function pool2dSamples(kit: SampleKit, options: { dilated: boolean; distinct: boolean }) {
  const { fc } = kit;
  const axis = fc
    .record({
      kernel: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 3 }),
      dilation: options.dilated ? fc.integer({ min: 1, max: 2 }) : fc.constant(1),
      padding: fc.nat({ max: 1 }),
      extra: fc.nat({ max: 3 }),
    })
    .map((a) => {
      const padding = Math.min(a.padding, Math.floor(a.kernel / 2));
      // From the smallest size one window fits in, up to 3 cells more.
      const size = Math.max(1, a.dilation * (a.kernel - 1) + 1 - 2 * padding) + a.extra;
      return { ...a, padding, size };
    });
  return fc
    .record({
      lead: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 1, maxLength: 2 }),
      h: axis,
      w: axis,
      ceilMode: fc.boolean(),
      defaultStride: fc.boolean(),
    })
    .map(({ lead, h, w, ceilMode, defaultStride }) => {
      const attrs: MaxPool2dAttrs = {
        kernelSize: [h.kernel, w.kernel],
        ...(defaultStride ? {} : { stride: [h.stride, w.stride] as const }),
        padding: [h.padding, w.padding],
        ...(options.dilated ? { dilation: [h.dilation, w.dilation] as const } : {}),
        ceilMode,
      };
      return { shape: [...lead, h.size, w.size], attrs };
    })
    .filter(({ shape, attrs }) => isValidLayout(shape, attrs, options.dilated))
    .chain(({ shape, attrs }) =>
      kit.tensor(shape, { distinct: options.distinct }).map((x) => ({ x, attrs })),
    );
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
