import { kernels } from "../../backends/backend.js";
import type { FloatArray } from "../../dtype.js";
import { showShape } from "../../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../../registry.js";
import type { Shape } from "../../shape.js";
import type { Tensor } from "../../tensor.js";
import { foldBatch, unfoldBatch } from "../batching.js";
import { floatData, produce } from "../util.js";
import { asImages, channelAxis } from "./batching.js";
import {
  INPUTS,
  convGeometry,
  expectShape,
  geometryOf,
  resultType,
  type Conv2dAttrs,
} from "./geometry.js";
import { convCases } from "./samples.js";

/** conv2dBackpropInput's attrs: the geometry and the shape of conv2d's x, its result. */
export interface Conv2dBackpropInputAttrs extends Conv2dAttrs {
  /** The shape of the result. */
  readonly inputShape: Shape;
}

/** conv2dBackpropFilter's attrs: the geometry and the shape of conv2d's w, its result. */
export interface Conv2dBackpropFilterAttrs extends Conv2dAttrs {
  /** The shape of the result. */
  readonly filterShape: Shape;
}

export const conv2dOp = defineOp({
  name: "conv2d",
  inputs: ["x", "w"],
  forward: ([x, w], attrs: Conv2dAttrs) => {
    const xData = floatData("conv2d", "x", x);
    const wData = floatData("conv2d", "w", w);
    const { params, yShape } = convGeometry("conv2d", x.shape, w.shape, attrs, INPUTS);
    return produce(
      resultType(x, w),
      yShape,
      (y) => kernels().conv2d(xData, wData, y as FloatArray, params),
      "unspecified",
    );
  },
  vjp: ({ dy, inputs: [x, w], attrs, needsGrad }): (Tensor | null)[] => {
    const geometry = geometryOf(attrs);
    return [
      needsGrad[0] ? conv2dBackpropInputOp(dy, w, { ...geometry, inputShape: x.shape }) : null,
      needsGrad[1] ? conv2dBackpropFilterOp(x, dy, { ...geometry, filterShape: w.shape }) : null,
    ];
  },
  // See batching.ts: more images under one w, or groups when w is mapped.
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const [x, w] = inputs;
    const [ax = null, aw = null] = axes;
    if (aw === null) return { y: asImages(x, ax!, (xs) => conv2dOp(xs, w, attrs)), axes: [0] };
    const c = channelAxis(x, ax);
    const groups = attrs.groups * size;
    const y = conv2dOp(foldBatch(x, ax, size, c), foldBatch(w, aw, size, 0), { ...attrs, groups });
    return { y: unfoldBatch(y, size, c), axes: [c] };
  },
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, attrs }) =>
      kit.fc
        .tuple(kit.tensor(xShape), kit.tensor(wShape))
        .map(([x, w]) => ({ inputs: [x, w], attrs })),
    ),
});

// conv2dBackpropInput is linear in dy and in w: ⟨g, BI(dy, w)⟩ = ⟨conv2d(g, w), dy⟩ =
// ⟨w, BF(g, dy)⟩. Likewise ⟨g, BF(x, dy)⟩ = ⟨conv2d(x, g), dy⟩ = ⟨x, BI(dy, g)⟩. So each of the
// three ops' vjps is written with the other two, and gradients of any order follow.

export const conv2dBackpropInputOp = defineOp({
  name: "conv2dBackpropInput",
  inputs: ["dy", "w"],
  forward: ([dy, w], attrs: Conv2dBackpropInputAttrs) => {
    const op = "conv2dBackpropInput";
    const dyData = floatData(op, "dy", dy);
    const wData = floatData(op, "w", w);
    const names = { x: "inputShape", w: "w" };
    const { params, yShape } = convGeometry(op, attrs.inputShape, w.shape, attrs, names);
    const why =
      `conv2d's output for inputShape ${showShape(attrs.inputShape)} ` +
      `and w ${showShape(w.shape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    return produce(
      resultType(dy, w),
      attrs.inputShape,
      (dx) => kernels().conv2dBackpropInput(dyData, wData, dx as FloatArray, params),
      "unspecified",
    );
  },
  // g is the cotangent of this op's output, which has conv2d's input shape.
  vjp: ({ dy: g, inputs: [dy, w], attrs, needsGrad }): (Tensor | null)[] => {
    const geometry = geometryOf(attrs);
    return [
      needsGrad[0] ? conv2dOp(g, w, geometry) : null,
      needsGrad[1] ? conv2dBackpropFilterOp(g, dy, { ...geometry, filterShape: w.shape }) : null,
    ];
  },
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const [dy, w] = inputs;
    const [ady = null, aw = null] = axes;
    const { inputShape } = attrs;
    if (aw === null) {
      const y = asImages(dy, ady!, (dys) =>
        conv2dBackpropInputOp(dys, w, {
          ...attrs,
          inputShape: [dys.shape[0]!, ...inputShape.slice(-3)],
        }),
      );
      return { y, axes: [0] };
    }
    const c = inputShape.length - 3;
    const y = conv2dBackpropInputOp(foldBatch(dy, ady, size, c), foldBatch(w, aw, size, 0), {
      ...attrs,
      groups: attrs.groups * size,
      inputShape: inputShape.map((d, i) => (i === c ? d * size : d)),
    });
    return { y: unfoldBatch(y, size, c), axes: [c] };
  },
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, yShape, attrs }) =>
      kit.fc
        .tuple(kit.tensor(yShape), kit.tensor(wShape))
        .map(([dy, w]) => ({ inputs: [dy, w], attrs: { ...attrs, inputShape: xShape } })),
    ),
});

export const conv2dBackpropFilterOp = defineOp({
  name: "conv2dBackpropFilter",
  inputs: ["x", "dy"],
  forward: ([x, dy], attrs: Conv2dBackpropFilterAttrs) => {
    const op = "conv2dBackpropFilter";
    const xData = floatData(op, "x", x);
    const dyData = floatData(op, "dy", dy);
    const names = { x: "x", w: "filterShape" };
    const { params, yShape } = convGeometry(op, x.shape, attrs.filterShape, attrs, names);
    const why =
      `conv2d's output for x ${showShape(x.shape)} ` +
      `and filterShape ${showShape(attrs.filterShape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    return produce(
      resultType(x, dy),
      attrs.filterShape,
      (dw) => kernels().conv2dBackpropFilter(xData, dyData, dw as FloatArray, params),
      "unspecified",
    );
  },
  // g is the cotangent of this op's output, which has conv2d's filter shape.
  vjp: ({ dy: g, inputs: [x, dy], attrs, needsGrad }): (Tensor | null)[] => {
    const geometry = geometryOf(attrs);
    return [
      needsGrad[0] ? conv2dBackpropInputOp(dy, g, { ...geometry, inputShape: x.shape }) : null,
      needsGrad[1] ? conv2dOp(x, g, geometry) : null,
    ];
  },
  // dw sums over images, so a mapped x or dy cannot fold into them: groups instead.
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const [x, dy] = inputs;
    const [ax = null, ady = null] = axes;
    const c = channelAxis(x, ax);
    const [cout, ...rest] = attrs.filterShape;
    const y = conv2dBackpropFilterOp(foldBatch(x, ax, size, c), foldBatch(dy, ady, size, c), {
      ...attrs,
      groups: attrs.groups * size,
      filterShape: [cout! * size, ...rest],
    });
    return { y: unfoldBatch(y, size, 0), axes: [0] };
  },
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, yShape, attrs }) =>
      kit.fc
        .tuple(kit.tensor(xShape), kit.tensor(yShape))
        .map(([x, dy]) => ({ inputs: [x, dy], attrs: { ...attrs, filterShape: wShape } })),
    ),
});
