import { kernels } from "../../backends/backend.js";
import type { FloatArray } from "../../dtype.js";
import { showShape } from "../../errors.js";
import type { ConvEpilogue } from "../../kernels/conv.js";
import {
  defineOp,
  type BatchContext,
  type BatchResult,
  type OpSample,
  type SingleOutput,
} from "../../registry.js";
import type { SampleKit } from "../../sampling.js";
import type { Tensor } from "../../tensor.js";
import { foldBatch, unfoldBatch } from "../batching.js";
import { add, reluBackward } from "../binary.js";
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
import { asImages, channelAxis } from "./batching.js";
import { conv2dBackpropFilterOp, conv2dBackpropInputOp, conv2dOp } from "./ops.js";
import { convCases } from "./samples.js";

// Convolution with its bias and activation in the kernel call, and its gradients from one pass:
// g = dy·[y > 0] (relu) or dy is formed once and read by every gradient that is wanted.

/** fusedConv2d's attrs: the geometry and the activation after the bias. */
export interface FusedConv2dAttrs extends Conv2dAttrs {
  /** Applied after the bias. */
  readonly activation: ConvActivation;
}

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
  // One kernel call makes every wanted gradient: all three with fusedConv2dBackward, or dw and
  // dbias with fusedConv2dParamGrad when x needs none (a network's input). Only x's gradient
  // alone goes through conv2dBackpropInput.
  vjp: ({ dy, y, inputs: [x, w], attrs, needsGrad }): readonly (Tensor | null)[] => {
    if (!needsGrad[1] && !needsGrad[2]) {
      const g = attrs.activation === "relu" ? reluBackward(dy, y) : dy;
      return [
        conv2dBackpropInputOp(g, w, { ...geometryOf(attrs), inputShape: x.shape }),
        null,
        null,
      ];
    }
    if (!needsGrad[0]) return [null, ...fusedConv2dParamGradOp(dy, y, x, w, attrs)];
    return fusedConv2dBackwardOp(dy, y, x, w, attrs);
  },
  // As conv2d's rule (batching.ts); a mapped bias also makes groups.
  batch: ({ inputs, axes, size, attrs }): BatchResult<SingleOutput> => {
    const [x, w, bias] = inputs;
    const [ax = null, aw = null, ab = null] = axes;
    if (aw === null && ab === null) {
      return { y: asImages(x, ax!, (xs) => fusedConv2dOp(xs, w, bias, attrs)), axes: [0] };
    }
    const c = channelAxis(x, ax);
    const y = fusedConv2dOp(
      foldBatch(x, ax, size, c),
      foldBatch(w, aw, size, 0),
      foldBatch(bias, ab, size, 0),
      { ...attrs, groups: attrs.groups * size },
    );
    return { y: unfoldBatch(y, size, c), axes: [c] };
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
    const call = backwardCall("fusedConv2dBackward", dy, y, x, w, attrs);
    const dx = unfilled(call.dtype, x.shape);
    return [dx, ...call.run(dx)];
  },
  vjp: ({ dy: [gdx, gdw, gdbias], inputs, attrs, needsGrad }) =>
    backwardVjp(gdx, gdw, gdbias, inputs, attrs, needsGrad),
  batch: (ctx): BatchResult<readonly ["dx", "dw", "dbias"]> => {
    const { size, attrs } = ctx;
    const { inputs, c } = backwardFolded(ctx);
    const [dx, dw, dbias] = fusedConv2dBackwardOp.apply(inputs, {
      ...attrs,
      groups: attrs.groups * size,
    });
    return {
      y: [unfoldBatch(dx, size, c), unfoldBatch(dw, size, 0), unfoldBatch(dbias, size, 0)],
      axes: [c, 0, 0],
    };
  },
  samples: backwardSamples,
});

export const fusedConv2dParamGradOp = defineOp({
  name: "fusedConv2dParamGrad",
  inputs: ["dy", "y", "x", "w"],
  outputs: ["dw", "dbias"],
  forward: ([dy, y, x, w], attrs: FusedConv2dAttrs) =>
    backwardCall("fusedConv2dParamGrad", dy, y, x, w, attrs).run(null),
  vjp: ({ dy: [gdw, gdbias], inputs, attrs, needsGrad }) =>
    backwardVjp(null, gdw, gdbias, inputs, attrs, needsGrad),
  batch: (ctx): BatchResult<readonly ["dw", "dbias"]> => {
    const { size, attrs } = ctx;
    const { inputs } = backwardFolded(ctx);
    const [dw, dbias] = fusedConv2dParamGradOp.apply(inputs, {
      ...attrs,
      groups: attrs.groups * size,
    });
    return { y: [unfoldBatch(dw, size, 0), unfoldBatch(dbias, size, 0)], axes: [0, 0] };
  },
  samples: backwardSamples,
});

/**
 * The fused backward ops' checks of dy, y, x and w, and the kernel call: it writes dw and dbias
 * (returned) and dx into the given tensor, or skips the input gradient for null.
 */
function backwardCall(
  op: string,
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  w: Tensor,
  attrs: FusedConv2dAttrs,
) {
  const data = [dy, y, x, w].map((t, i) => floatData(op, ["dy", "y", "x", "w"][i]!, t));
  const { params, yShape } = convGeometry(op, x.shape, w.shape, attrs, INPUTS);
  const why = `fusedConv2d's output for x ${showShape(x.shape)} and w ${showShape(w.shape)}`;
  expectShape(op, "dy", dy.shape, yShape, why);
  expectShape(op, "y", y.shape, yShape, why);
  const relu = checkActivation(op, attrs.activation) === "relu";
  const dtype = dy.dtype === "float64" ? "float64" : resultType(x, w);
  const run = (dx: Tensor | null): [Tensor, Tensor] => {
    const dw = unfilled(dtype, w.shape);
    const dbias = unfilled(dtype, [params.outChannels]);
    const [dyData, yData, xData, wData] = data as [FloatArray, FloatArray, FloatArray, FloatArray];
    const out = (t: Tensor) => t.buffer as FloatArray;
    kernels().fusedConv2dBackward(
      dyData,
      yData,
      xData,
      wData,
      dx && out(dx),
      out(dw),
      out(dbias),
      params,
      relu,
    );
    return [dw, dbias];
  };
  return { dtype, run };
}

/**
 * The vjp of the fused backward ops for cotangents (gdx, gdw, gdbias), gdx null for
 * fusedConv2dParamGrad. With g = dy·[y > 0] (or dy) the outputs are BI(g, w), BF(x, g) and Σ g,
 * linear in g and in each of x and w, so: d(dy) is the mask applied to conv2d(gdx, w) +
 * conv2d(x, gdw) + gdbias, dx = BI(g, gdw), dw = BF(gdx, g) (ops.ts's identities); y only
 * masks, and the mask is constant almost everywhere.
 */
function backwardVjp(
  gdx: Tensor | null,
  gdw: Tensor,
  gdbias: Tensor,
  [dy, y, x, w]: readonly Tensor[],
  attrs: FusedConv2dAttrs,
  needsGrad: readonly boolean[],
): (Tensor | null)[] {
  const geometry = geometryOf(attrs);
  const relu = attrs.activation === "relu";
  const g = relu ? reluBackward(dy!, y!) : dy!;
  let dg: Tensor | null = null;
  if (needsGrad[0]) {
    dg = add(conv2dOp(x!, gdw, geometry), reshape(gdbias, [gdbias.size, 1, 1]));
    if (gdx !== null) dg = add(dg, conv2dOp(gdx, w!, geometry));
    if (relu) dg = reluBackward(dg, y!);
  }
  return [
    dg,
    null,
    needsGrad[2] ? conv2dBackpropInputOp(g, gdw, { ...geometry, inputShape: x!.shape }) : null,
    needsGrad[3] && gdx !== null
      ? conv2dBackpropFilterOp(gdx, g, { ...geometry, filterShape: w!.shape })
      : null,
  ];
}

/**
 * The fused backward ops' inputs for one call over a batch: dw and dbias sum over images, so
 * dy, y and x fold the batch into their channels (axis c of a slice) and w into its filters, with
 * groups × B (batching.ts).
 */
function backwardFolded({ inputs, axes, size }: BatchContext<BackwardInputs, FusedConv2dAttrs>) {
  const [dy, y, x, w] = inputs;
  const [ady = null, ay = null, ax = null, aw = null] = axes;
  const c = channelAxis(x, ax);
  const folded = [
    foldBatch(dy, ady, size, c),
    foldBatch(y, ay, size, c),
    foldBatch(x, ax, size, c),
    foldBatch(w, aw, size, 0),
  ];
  return { inputs: folded, c };
}

type BackwardInputs = readonly ["dy", "y", "x", "w"];

/** dy, y (away from 0, where relu's mask would flip), x and w of a random convolution. */
function backwardSamples(kit: SampleKit) {
  return convCases(kit).chain(({ xShape, wShape, yShape, attrs }) =>
    kit.fc
      .tuple(
        kit.tensor(yShape),
        kit.tensor(yShape, { awayFrom: [0] }),
        kit.tensor(xShape),
        kit.tensor(wShape),
        kit.fc.constantFrom<ConvActivation>("linear", "relu"),
      )
      .map(([dy, y, x, w, activation]): OpSample<FusedConv2dAttrs> => ({
        inputs: [dy, y, x, w],
        attrs: { ...attrs, activation },
      })),
  );
}
