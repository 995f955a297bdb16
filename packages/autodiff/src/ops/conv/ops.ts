import { kernels } from "../../backends/backend.js";
import type { FloatArray } from "../../dtype.js";
import { showShape } from "../../errors.js";
import type { ConvEpilogue } from "../../kernels/conv.js";
import { defineOp } from "../../registry.js";
import type { Shape } from "../../shape.js";
import type { Tensor } from "../../tensor.js";
import { add, reluBackward } from "../binary.js";
import { sum } from "../reduce.js";
import { reshape } from "../reshape.js";
import { floatData, produce, unfilled } from "../util.js";
import {
  INPUTS,
  checkActivation,
  checkBias,
  convGeometry,
  expectShape,
  geometryOf,
  resultType,
  type Conv2dAttrs,
  type ConvActivation,
} from "./geometry.js";
import { convCases } from "./samples.js";

/** fusedConv2d's attrs: the geometry and the activation after the bias. */
export interface FusedConv2dAttrs extends Conv2dAttrs {
  /** Applied after the bias. */
  readonly activation: ConvActivation;
}

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
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, attrs }) =>
      kit.fc
        .tuple(kit.tensor(xShape), kit.tensor(wShape))
        .map(([x, w]) => ({ inputs: [x, w], attrs })),
    ),
});

export const fusedConv2dOp = defineOp({
  name: "fusedConv2d",
  inputs: ["x", "w", "bias"],
  forward: ([x, w, bias], attrs: FusedConv2dAttrs) => {
    const op = "fusedConv2d";
    const xData = floatData(op, "x", x);
    const wData = floatData(op, "w", w);
    const { params, yShape } = convGeometry(op, x.shape, w.shape, attrs, INPUTS);
    checkBias(op, bias, params.outChannels);
    const epilogue: ConvEpilogue = {
      bias: bias.buffer as FloatArray,
      relu: checkActivation(op, attrs.activation) === "relu",
    };
    const dtype = bias.dtype === "float64" ? "float64" : resultType(x, w);
    return produce(
      dtype,
      yShape,
      (y) => kernels().fusedConv2d(xData, wData, y as FloatArray, params, epilogue),
      "unspecified",
    );
  },
  // When x and a parameter both need a gradient, one fusedConv2dBackward call makes all three
  // (g, the relu-masked dy, is formed inside it). Otherwise each wanted gradient comes from its
  // own op, so that no kernel computes a gradient nobody asked for.
  vjp: ({ dy, y, inputs: [x, w], attrs, needsGrad }): readonly (Tensor | null)[] => {
    if (needsGrad[0] && (needsGrad[1] || needsGrad[2])) {
      return fusedConv2dBackwardOp(dy, y, x, w, attrs);
    }
    const geometry = geometryOf(attrs);
    const g = attrs.activation === "relu" ? reluBackward(dy, y) : dy;
    const spatial = g.ndim === 4 ? [0, 2, 3] : [1, 2];
    return [
      needsGrad[0] ? conv2dBackpropInputOp(g, w, { ...geometry, inputShape: x.shape }) : null,
      needsGrad[1] ? conv2dBackpropFilterOp(x, g, { ...geometry, filterShape: w.shape }) : null,
      needsGrad[2] ? sum(g, { axis: spatial }) : null,
    ];
  },
  // For relu, samples whose sums lie near 0 are dropped: finite differences across the kink
  // would not match the one-sided derivative.
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, attrs }) =>
      kit.fc
        .tuple(
          kit.tensor(xShape),
          kit.tensor(wShape),
          kit.tensor([wShape[0]!]),
          kit.fc.constantFrom<ConvActivation>("linear", "relu"),
        )
        .filter(([x, w, bias, activation]) => {
          if (activation === "linear") return true;
          const sums = add(conv2dOp(x, w, attrs), reshape(bias, [wShape[0]!, 1, 1]));
          return (sums.buffer as FloatArray).every((v) => Math.abs(v) > 1e-3);
        })
        .map(([x, w, bias, activation]) => ({
          inputs: [x, w, bias],
          attrs: { ...attrs, activation },
        })),
    ),
});

export const fusedConv2dBackwardOp = defineOp({
  name: "fusedConv2dBackward",
  inputs: ["dy", "y", "x", "w"],
  outputs: ["dx", "dw", "dbias"],
  forward: ([dy, y, x, w], attrs: FusedConv2dAttrs) => {
    const op = "fusedConv2dBackward";
    const dyData = floatData(op, "dy", dy);
    const yData = floatData(op, "y", y);
    const xData = floatData(op, "x", x);
    const wData = floatData(op, "w", w);
    const { params, yShape } = convGeometry(op, x.shape, w.shape, attrs, INPUTS);
    const why = `fusedConv2d's output for x ${showShape(x.shape)} and w ${showShape(w.shape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    expectShape(op, "y", y.shape, yShape, why);
    const relu = checkActivation(op, attrs.activation) === "relu";
    const dtype = dy.dtype === "float64" ? "float64" : resultType(x, w);
    const dx = unfilled(dtype, x.shape);
    const dw = unfilled(dtype, w.shape);
    const dbias = unfilled(dtype, [params.outChannels]);
    kernels().fusedConv2dBackward(
      dyData,
      yData,
      xData,
      wData,
      dx.buffer as FloatArray,
      dw.buffer as FloatArray,
      dbias.buffer as FloatArray,
      params,
      relu,
    );
    return [dx, dw, dbias];
  },
  // With g = dy·[y > 0] (or dy) the outputs are BI(g, w), BF(x, g) and Σ g, linear in g and in
  // each of x and w, so for cotangents (gdx, gdw, gdbias): d(dy) is the mask applied to
  // conv2d(gdx, w) + conv2d(x, gdw) + gdbias, dx = BI(g, gdw), dw = BF(gdx, g) (the identities
  // below); y only masks, and the mask is constant almost everywhere.
  vjp: ({ dy: [gdx, gdw, gdbias], inputs: [dy, y, x, w], attrs, needsGrad }): (Tensor | null)[] => {
    const geometry = geometryOf(attrs);
    const relu = attrs.activation === "relu";
    const g = relu ? reluBackward(dy, y) : dy;
    let dg: Tensor | null = null;
    if (needsGrad[0]) {
      dg = add(conv2dOp(x, gdw, geometry), reshape(gdbias, [gdbias.size, 1, 1]));
      dg = add(dg, conv2dOp(gdx, w, geometry));
      if (relu) dg = reluBackward(dg, y);
    }
    return [
      dg,
      null,
      needsGrad[2] ? conv2dBackpropInputOp(g, gdw, { ...geometry, inputShape: x.shape }) : null,
      needsGrad[3] ? conv2dBackpropFilterOp(gdx, g, { ...geometry, filterShape: w.shape }) : null,
    ];
  },
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, yShape, attrs }) =>
      kit.fc
        .tuple(
          kit.tensor(yShape),
          kit.tensor(yShape, { awayFrom: [0] }),
          kit.tensor(xShape),
          kit.tensor(wShape),
          kit.fc.constantFrom<ConvActivation>("linear", "relu"),
        )
        .map(([dy, y, x, w, activation]) => ({
          inputs: [dy, y, x, w],
          attrs: { ...attrs, activation },
        })),
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
  samples: (kit) =>
    convCases(kit).chain(({ xShape, wShape, yShape, attrs }) =>
      kit.fc
        .tuple(kit.tensor(xShape), kit.tensor(yShape))
        .map(([x, dy]) => ({ inputs: [x, dy], attrs: { ...attrs, filterShape: wShape } })),
    ),
});
