import { kernels } from "../backends/backend.js";
import { allocate, type FloatArray } from "../dtype.js";
import { argumentError, shapeError, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { assertSizeWithinLimit, assertValidShape, shapesEqual } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { planesBatch } from "./batching.js";
import { matmul } from "./matmul.js";
import { assertPoolInput, pool2dLayout, pool2dSamples, type Pool2dAttrs } from "./pool2d.js";
import { mean } from "./reduce.js";
import { assertFloat, assertTensor, booleanAttr, floatData, produce } from "./util.js";
import { resolvePair, type Pair } from "./window.js";

export interface AvgPool2dAttrs extends Pool2dAttrs {
  /**
   * Whether padded cells count in the divisor (default true, as PyTorch). Either way a ceilMode
   * window's cells beyond the padding never count.
   */
  readonly countIncludePad?: boolean;
}

interface AvgPool2dBackwardAttrs extends AvgPool2dAttrs {
  /** The shape of avgPool2d's input, which dy's shape alone does not determine. */
  readonly inputShape: readonly number[];
}

/** The samples' attrs with a random countIncludePad. */
function avgSamples(kit: SampleKit) {
  return kit.fc
    .tuple(pool2dSamples(kit, { dilated: false, distinct: false }), kit.fc.boolean())
    .map(([{ x, attrs }, countIncludePad]) => ({ x, attrs: { ...attrs, countIncludePad } }));
}

const avgPool2dOp = defineOp({
  name: "avgPool2d",
  inputs: ["x"],
  forward: ([x], attrs: AvgPool2dAttrs) => {
    const data = floatData("avgPool2d", "x", x);
    const { geometry, outShape } = pool2dLayout("avgPool2d", x.shape, attrs, false);
    const countIncludePad = booleanAttr(
      "avgPool2d",
      "countIncludePad",
      attrs.countIncludePad ?? true,
    );
    return produce(x.dtype, outShape, (out) =>
      kernels().avgPool2d(data, geometry, countIncludePad, out as FloatArray),
    );
  },
  vjp: ({ dy, inputs: [x], attrs }) => [avgPool2dBackward(dy, x.shape, attrs)],
  batch: ({ inputs: [x], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    planesBatch(x, axis!, (planes) => avgPool2dOp(planes, attrs)),
  samples: (kit) => avgSamples(kit).map(({ x, attrs }) => ({ inputs: [x], attrs })),
});

/**
 * Mean over kh×kw windows of each plane of x ([N, C, H, W] or [C, H, W]), float only. The divisor
 * is PyTorch's: kh·kw, less cells beyond the padding (ceilMode), less padded cells when
 * countIncludePad is false. Gradient: avgPool2dBackward, dy/divisor spread over each window.
 */
export function avgPool2d(x: TensorLike, attrs: AvgPool2dAttrs): Tensor {
  return avgPool2dOp(x, attrs);
}

const avgPool2dBackwardOp = defineOp({
  name: "avgPool2dBackward",
  inputs: ["dy"],
  forward: ([dy], attrs: AvgPool2dBackwardAttrs) => {
    const { inputShape, ...poolAttrs } = attrs;
    const data = floatData("avgPool2dBackward", "dy", dy);
    if (!Array.isArray(inputShape)) {
      throw argumentError("avgPool2dBackward", "inputShape must be an array of integers");
    }
    assertValidShape("avgPool2dBackward", inputShape);
    const { geometry, outShape } = pool2dLayout("avgPool2dBackward", inputShape, poolAttrs, false);
    if (!shapesEqual(dy.shape, outShape)) {
      throw shapeError(
        "avgPool2dBackward",
        `dy has shape ${showShape(dy.shape)}, expected ${showShape(outShape)}: ` +
          `the avgPool2d output for inputShape ${showShape(inputShape)}`,
      );
    }
    const countIncludePad = booleanAttr(
      "avgPool2dBackward",
      "countIncludePad",
      attrs.countIncludePad ?? true,
    );
    return produce(dy.dtype, [...inputShape], (out) =>
      kernels().avgPool2dBackward(data, geometry, countIncludePad, out as FloatArray),
    );
  },
  // Linear, and the transpose of avgPool2d with the same attrs: the two are an adjoint pair.
  vjp: ({ dy, attrs: { inputShape: _, ...poolAttrs } }) => [avgPool2d(dy, poolAttrs)],
  batch: ({ inputs: [dy], axes: [axis], attrs }): BatchResult<SingleOutput> =>
    planesBatch(dy, axis!, (planes) =>
      avgPool2dBackwardOp(planes, {
        ...attrs,
        inputShape: [planes.shape[0]!, ...attrs.inputShape.slice(-2)],
      }),
    ),
  samples: (kit) =>
    avgSamples(kit).chain(({ x, attrs }) => {
      const { outShape } = pool2dLayout("samples", x.shape, attrs, false);
      return kit
        .tensor(outShape)
        .map((dy) => ({ inputs: [dy], attrs: { ...attrs, inputShape: x.shape } }));
    }),
});

/**
 * The vjp of avgPool2d for an input of `inputShape`: dx = 0, then each window's input cells get
 * dy/divisor (summed where windows overlap). Linear; its gradient is avgPool2d with the same attrs.
 */
export function avgPool2dBackward(
  dy: TensorLike,
  inputShape: readonly number[],
  attrs: AvgPool2dAttrs,
): Tensor {
  return avgPool2dBackwardOp(dy, { ...attrs, inputShape });
}

/** Checks an adaptive/global pooling input: float, 3-D or 4-D, non-empty planes. */
function assertPlanes(op: string, x: Tensor): void {
  assertTensor(op, "x", x);
  assertPoolInput(op, "x", x.shape);
  assertFloat(op, "x", x);
  const [h, w] = x.shape.slice(-2) as [number, number];
  if (h === 0 || w === 0) {
    throw shapeError(op, `x has an empty plane: shape ${showShape(x.shape)} (H and W must be ≥ 1)`);
  }
}

/**
 * The mean of each plane: [N, C, H, W] → [N, C, 1, 1] (or [C, H, W] → [C, 1, 1]).
 * Gradient: dy/(H·W) over the plane.
 */
export function globalAvgPool2d(x: Tensor): Tensor {
  assertPlanes("globalAvgPool2d", x);
  return mean(x, { axis: [-2, -1], keepdims: true });
}

/**
 * The [out, size] matrix whose row i averages cells floor(i·size/out) … ceil((i+1)·size/out) − 1,
 * PyTorch's adaptive windows (they overlap when size is not a multiple of out).
 */
function averagingMatrix(size: number, out: number, dtype: Tensor["dtype"]): Tensor {
  const data = allocate(dtype, out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) data[i * size + j] = 1 / (end - start);
  }
  return new Tensor(data, [out, size]);
}

/**
 * Average pooling to a fixed `outputSize` ([oh, ow], or one number for both) whatever H and W:
 * output (i, j) averages rows floor(i·H/oh) … ceil((i+1)·H/oh) − 1 and likewise columns, as
 * PyTorch. Gradient: each window's dy spread evenly over it (its transpose).
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  const op = "adaptiveAvgPool2d";
  assertPlanes(op, x);
  const [oh, ow] = resolvePair(op, "outputSize", outputSize, 1);
  const [h, w] = x.shape.slice(-2) as [number, number];
  if (oh === h && ow === w) return x;
  assertSizeWithinLimit(op, [...x.shape.slice(0, -2), oh, ow]);
  assertSizeWithinLimit(op, [Math.max(oh, ow), Math.max(h, w)]);
  // Sizes that divide evenly give equal, disjoint windows: plain average pooling, whose kernel
  // is far cheaper than the matrix products below (O(H·W) rather than O(oh·H·W) per plane).
  if (h % oh === 0 && w % ow === 0) return avgPool2d(x, { kernelSize: [h / oh, w / ow] });
  // Otherwise P_h · x · P_wᵀ with averaging matrices: exact, and differentiable as matmul is.
  let y = x;
  if (oh !== h) y = matmul(averagingMatrix(h, oh, x.dtype), y);
  if (ow !== w) y = matmul(y, averagingMatrix(w, ow, x.dtype), { transB: true });
  return y;
}
