import type { Arbitrary } from "fast-check";
import { kernels } from "../backends/backend.js";
import { allocateUninitialized, type FloatArray, type FloatDType } from "../dtype.js";
import { argumentError, shapeError, showShape } from "../errors.js";
import {
  convBackwardLayout,
  type Conv2dParams,
  type ConvBackwardPlan,
  type ConvEpilogue,
} from "../kernels/conv.js";
import { defineOp } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { assertSizeWithinLimit, shapeSize, shapesEqual, type Shape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { add, reluBackward } from "./binary.js";
import { reshape } from "./reshape.js";
import { slice } from "./slice.js";
import { relu } from "./unary.js";
import { assertFloat, assertTensor, booleanAttr, optionsArgument } from "./util.js";
import {
  axisGeometry,
  resolveConvPadding,
  resolvePair,
  type Padding,
  type Pair,
} from "./window.js";

/** Stride, padding, dilation and groups of a convolution, as callers write them. */
export interface Conv2dGeometryOptions {
  /** Default 1. */
  readonly stride?: Pair;
  /** Zeros around each spatial axis (default 0); 'same' needs stride 1, puts an odd extra after. */
  readonly padding?: Padding;
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: Pair;
  /** Channel groups (default 1); groups = Cin is a depthwise convolution. */
  readonly groups?: number;
}

/** What a fused convolution applies to its output after the bias: relu, or nothing. */
export type ConvActivation = "linear" | "relu";

export interface Conv2dOptions extends Conv2dGeometryOptions {
  /** [Cout], added to every position of its output channel. */
  readonly bias?: Tensor;
  /**
   * Applied to the output after the bias (default "linear": nothing). With a bias, both run
   * inside the convolution's kernel call (fusedConv2d) instead of as two more passes over y.
   */
  readonly activation?: ConvActivation;
}

export interface FusedConv2dOptions extends Conv2dGeometryOptions {
  /** Applied after the bias (default "linear": nothing). */
  readonly activation?: ConvActivation;
}

export interface FusedConv2dBackwardOptions extends FusedConv2dOptions {
  /** Whether the packed result starts with dx (default false: dw and dbias only). */
  readonly inputGrad?: boolean;
}

export interface Conv2dBackpropInputOptions extends Conv2dGeometryOptions {
  /** The shape of conv2d's x, [N, Cin, H, W] or [Cin, H, W]: the shape of the result. */
  readonly inputShape: Shape;
}

export interface Conv2dBackpropFilterOptions extends Conv2dGeometryOptions {
  /** The shape of conv2d's w, [Cout, Cin/groups, kh, kw]: the shape of the result. */
  readonly filterShape: Shape;
}

/** The resolved geometry the three registered conv ops share. */
export interface Conv2dAttrs {
  readonly stride: readonly [number, number];
  /**
   * [[top, bottom], [left, right]]. Bottom and right may be negative: the last rows or columns
   * of the input are then never read (how convTranspose2d's outputPadding is expressed).
   */
  readonly padding: readonly [readonly [number, number], readonly [number, number]];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

export interface FusedConv2dAttrs extends Conv2dAttrs {
  readonly activation: ConvActivation;
}

export interface FusedConv2dBackwardAttrs extends FusedConv2dAttrs {
  /** Whether the packed result starts with dx. */
  readonly inputGrad: boolean;
}

export interface Conv2dBackpropInputAttrs extends Conv2dAttrs {
  readonly inputShape: Shape;
}

export interface Conv2dBackpropFilterAttrs extends Conv2dAttrs {
  readonly filterShape: Shape;
}

/** What the kernels need and the shape of conv2d's output. */
interface ConvGeometry {
  readonly params: Conv2dParams;
  readonly yShape: number[];
}

/** How error messages name x's and w's shapes: an input, or a shape attr of a backprop op. */
interface ShapeNames {
  readonly x: string;
  readonly w: string;
}

const INPUTS: ShapeNames = { x: "x", w: "w" };

function isShape(shape: unknown): shape is Shape {
  return (
    Array.isArray(shape) &&
    shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  );
}

function show(shape: unknown): string {
  return Array.isArray(shape) ? showShape(shape) : String(shape);
}

/** Requires w to be [Cout, Cin/groups, kh, kw] with positive sizes. */
function checkFilterShape(op: string, name: string, shape: unknown): asserts shape is Shape {
  if (!isShape(shape) || shape.length !== 4) {
    throw shapeError(
      op,
      `${name} must be 4-D [Cout, Cin/groups, kh, kw], got shape ${show(shape)}`,
    );
  }
  if (shape.some((d) => d < 1)) {
    throw shapeError(op, `${name} must have positive sizes, got shape ${showShape(shape)}`);
  }
  assertSizeWithinLimit(op, shape);
}

/** Requires x to be [N, C, H, W] or [C, H, W] with positive C, H and W (N may be 0). */
function checkInputShape(op: string, name: string, shape: unknown): asserts shape is Shape {
  if (!isShape(shape) || (shape.length !== 3 && shape.length !== 4)) {
    throw shapeError(
      op,
      `${name} must be 4-D [N, C, H, W] or 3-D [C, H, W], got shape ${show(shape)}`,
    );
  }
  if (shape.slice(-3).some((d) => d < 1)) {
    throw shapeError(
      op,
      `${name} must have positive channel, height and width sizes, got shape ${showShape(shape)}`,
    );
  }
  assertSizeWithinLimit(op, shape);
}

/** Requires `groups` to be a positive integer dividing both channel counts. */
function checkGroups(
  op: string,
  groups: unknown,
  xShape: Shape,
  wShape: Shape,
  names: ShapeNames,
): number {
  const cin = xShape[xShape.length - 3]!;
  const cout = wShape[0]!;
  if (typeof groups !== "number" || !Number.isInteger(groups) || groups < 1) {
    throw argumentError(op, `groups must be a positive integer, got ${show(groups)}`);
  }
  if (cin % groups !== 0) {
    throw shapeError(
      op,
      `groups ${groups} must divide the ${cin} input channels of ${names.x} ` +
        `(${names.x} is ${showShape(xShape)})`,
    );
  }
  if (cout % groups !== 0) {
    throw shapeError(
      op,
      `groups ${groups} must divide the ${cout} output channels of ${names.w} ` +
        `(${names.w} is ${showShape(wShape)})`,
    );
  }
  return groups;
}

/** Requires resolved padding: [[top, bottom], [left, right]] integers, top and left ≥ 0. */
function checkPadding(op: string, padding: unknown): [[number, number], [number, number]] {
  const isPair = (p: unknown): p is [number, number] =>
    Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v));
  if (
    !Array.isArray(padding) ||
    padding.length !== 2 ||
    !padding.every(isPair) ||
    padding[0][0] < 0 ||
    padding[1][0] < 0
  ) {
    throw argumentError(
      op,
      `padding must be [[top, bottom], [left, right]] integers with top, left ≥ 0, ` +
        `got ${JSON.stringify(padding)}`,
    );
  }
  return [padding[0], padding[1]];
}

/**
 * Validates the shapes and resolved attrs of one convolution x [N?, Cin, H, W] ⋆ w [Cout,
 * Cin/groups, kh, kw] and works out its kernel params and output shape [N?, Cout, Hout, Wout].
 */
function convGeometry(
  op: string,
  xShape: unknown,
  wShape: unknown,
  attrs: Conv2dAttrs,
  names: ShapeNames,
): ConvGeometry {
  checkInputShape(op, names.x, xShape);
  checkFilterShape(op, names.w, wShape);
  const batched = xShape.length === 4;
  const [batch, inChannels, height, width] = batched ? xShape : [1, ...xShape];
  const [outChannels, perGroup, kernelH, kernelW] = wShape as [number, number, number, number];
  const groups = checkGroups(op, attrs.groups, xShape, wShape, names);
  if (inChannels! / groups !== perGroup) {
    const split = groups > 1 ? `, ${inChannels! / groups} per group` : "";
    throw shapeError(
      op,
      `${names.w} expects ${perGroup} input channels per group (${names.w} is ` +
        `${showShape(wShape)}, groups ${groups}) but ${names.x} has ${inChannels} channels` +
        `${split} (${names.x} is ${showShape(xShape)})`,
    );
  }
  const [strideH, strideW] = resolvePair(op, "stride", attrs.stride, 1);
  const [dilationH, dilationW] = resolvePair(op, "dilation", attrs.dilation, 1);
  const [[padTop, padBottom], [padLeft, padRight]] = checkPadding(op, attrs.padding);
  const h = axisGeometry(op, "height", {
    size: height!,
    kernel: kernelH,
    stride: strideH,
    dilation: dilationH,
    padBefore: padTop,
    padAfter: padBottom,
  });
  const w = axisGeometry(op, "width", {
    size: width!,
    kernel: kernelW,
    stride: strideW,
    dilation: dilationW,
    padBefore: padLeft,
    padAfter: padRight,
  });
  const params: Conv2dParams = {
    batch: batch!,
    inChannels: inChannels!,
    height: height!,
    width: width!,
    outChannels,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padTop,
    padLeft,
    dilationH,
    dilationW,
    groups,
    outH: h.out,
    outW: w.out,
  };
  const yShape = [...(batched ? [batch!] : []), outChannels, h.out, w.out];
  assertSizeWithinLimit(op, yShape);
  return { params, yShape };
}

/**
 * @internal Resolves user-facing geometry options (numbers, pairs, 'valid', 'same') to the
 * registered ops' attrs; 'same' needs the kernel size, read from the filter shape.
 */
export function resolveConv2dAttrs(
  op: string,
  filterName: string,
  filterShape: unknown,
  options: Conv2dGeometryOptions,
): Conv2dAttrs {
  checkFilterShape(op, filterName, filterShape);
  const kernel: [number, number] = [filterShape[2]!, filterShape[3]!];
  const stride = resolvePair(op, "stride", options.stride ?? 1, 1);
  const dilation = resolvePair(op, "dilation", options.dilation ?? 1, 1);
  const padding = resolveConvPadding(op, options.padding ?? 0, kernel, dilation, stride);
  return { stride, padding, dilation, groups: options.groups ?? 1 };
}

/** Only the geometry of attrs that may carry a backprop op's shape attr as well. */
function geometryOf(attrs: Conv2dAttrs): Conv2dAttrs {
  const { stride, padding, dilation, groups } = attrs;
  return { stride, padding, dilation, groups };
}

/** The elements of a float tensor, for a kernel. */
function floats(op: string, name: string, x: Tensor): FloatArray {
  assertFloat(op, name, x);
  return x.buffer as FloatArray;
}

/** float64 if either operand is, else float32 (as matmul). */
function resultType(a: Tensor, b: Tensor): FloatDType {
  return a.dtype === "float64" || b.dtype === "float64" ? "float64" : "float32";
}

/** A float tensor that `fill` writes in full (ConvKernels' contract): not zero-filled first. */
function convOutput(dtype: FloatDType, shape: Shape, fill: (out: FloatArray) => void): Tensor {
  const size = shapeSize(shape);
  const out = allocateUninitialized(dtype, size) as FloatArray;
  fill(out);
  return new Tensor(out, [...shape]);
}

function expectShape(op: string, name: string, shape: Shape, expected: Shape, why: string): void {
  if (!shapesEqual(shape, expected)) {
    throw shapeError(
      op,
      `${name} must have shape ${showShape(expected)} (${why}), got ${showShape(shape)}`,
    );
  }
}

/** A small convolution for the gradient checks, with its shapes. */
interface ConvCase {
  readonly xShape: number[];
  readonly wShape: number[];
  readonly yShape: number[];
  readonly attrs: Conv2dAttrs;
}

type PaddingChoice =
  Padding | { readonly before: [number, number]; readonly extra: [number, number] };

/**
 * Convolutions with N ≤ 2, C ≤ 4, H, W ≤ 7: non-square kernels up to 3×3, strides and
 * dilations up to 2, groups 1, 2 or 4 (depthwise), 3-D inputs, and every padding form: a number,
 * a pair, 'valid', 'same', and negative bottom/right padding as convTranspose2d makes.
 */
function convCases(kit: SampleKit): Arbitrary<ConvCase> {
  const { fc } = kit;
  const pair = (min: number, max: number) =>
    fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));
  const padding: Arbitrary<PaddingChoice> = fc.oneof(
    fc.integer({ min: 0, max: 2 }),
    pair(0, 2),
    fc.constant("valid" as const),
    fc.constant("same" as const),
    fc.record({ before: pair(0, 2), extra: pair(0, 1) }),
  );
  return fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      unbatched: fc.integer({ min: 0, max: 3 }).map((v) => v === 0),
      groups: fc.constantFrom(1, 2, 4),
      inPerGroup: fc.integer({ min: 1, max: 2 }),
      outPerGroup: fc.integer({ min: 1, max: 2 }),
      kernel: pair(1, 3),
      stride: pair(1, 2),
      dilation: pair(1, 2),
      padding,
      room: pair(0, 3),
    })
    .map((c) => {
      const inPerGroup = c.groups === 4 ? 1 : c.inPerGroup;
      const outPerGroup = c.groups === 4 ? 1 : c.outPerGroup;
      const stride: [number, number] = c.padding === "same" ? [1, 1] : c.stride;
      let pads: [[number, number], [number, number]];
      if (typeof c.padding === "object" && "extra" in c.padding) {
        // Output padding, as in convTranspose2d: it must stay below the stride or dilation.
        const { before, extra } = c.padding;
        const cut = (axis: 0 | 1) =>
          Math.min(extra[axis], Math.max(stride[axis], c.dilation[axis]) - 1);
        pads = [
          [before[0], before[0] - cut(0)],
          [before[1], before[1] - cut(1)],
        ];
      } else {
        pads = resolveConvPadding("samples", c.padding, c.kernel, c.dilation, stride);
      }
      // The smallest input that fits one window, plus a little room for more.
      const size = (axis: 0 | 1) => {
        const span = c.dilation[axis] * (c.kernel[axis] - 1) + 1;
        const fits = Math.max(1, span - pads[axis][0] - pads[axis][1]);
        return Math.min(7, fits + c.room[axis]);
      };
      const xShape = [c.groups * inPerGroup, size(0), size(1)];
      if (!c.unbatched) xShape.unshift(c.batch);
      const wShape = [c.groups * outPerGroup, inPerGroup, ...c.kernel];
      const attrs: Conv2dAttrs = { stride, padding: pads, dilation: c.dilation, groups: c.groups };
      const { yShape } = convGeometry("samples", xShape, wShape, attrs, INPUTS);
      return { xShape, wShape, yShape, attrs };
    });
}

const conv2dOp = defineOp({
  name: "conv2d",
  inputs: ["x", "w"],
  forward: ([x, w], attrs: Conv2dAttrs) => {
    const xData = floats("conv2d", "x", x);
    const wData = floats("conv2d", "w", w);
    const { params, yShape } = convGeometry("conv2d", x.shape, w.shape, attrs, INPUTS);
    return convOutput(resultType(x, w), yShape, (y) => kernels().conv2d(xData, wData, y, params));
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

const fusedConv2dOp = defineOp({
  name: "fusedConv2d",
  inputs: ["x", "w", "bias"],
  forward: ([x, w, bias], attrs: FusedConv2dAttrs) => {
    const op = "fusedConv2d";
    const xData = floats(op, "x", x);
    const wData = floats(op, "w", w);
    const { params, yShape } = convGeometry(op, x.shape, w.shape, attrs, INPUTS);
    checkBias(op, bias, params.outChannels);
    const epilogue: ConvEpilogue = {
      bias: bias.buffer as FloatArray,
      relu: checkActivation(op, attrs.activation) === "relu",
    };
    const dtype = bias.dtype === "float64" ? "float64" : resultType(x, w);
    return convOutput(dtype, yShape, (y) =>
      kernels().fusedConv2d(xData, wData, y, params, epilogue),
    );
  },
  // All three gradients come from one fusedConv2dBackward call (g, the relu-masked dy, is made
  // inside it) and are sliced out of its packed result; with no filter or bias gradient wanted,
  // dx alone is conv2dBackpropInput of g.
  vjp: ({ dy, y, inputs: [x, w], attrs, needsGrad }): (Tensor | null)[] => {
    if (!needsGrad[1] && !needsGrad[2]) {
      const g = attrs.activation === "relu" ? reluBackward(dy, y) : dy;
      const inputShape = x.shape;
      return [conv2dBackpropInputOp(g, w, { ...geometryOf(attrs), inputShape }), null, null];
    }
    const packed = fusedConv2dBackwardOp(dy, y, x, w, { ...attrs, inputGrad: needsGrad[0]! });
    return unpackConvGrads(packed, x.shape, w.shape, needsGrad[0]!);
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
          const sums = addBias("samples", conv2dOp(x, w, attrs), bias, wShape[0]!);
          return (sums.buffer as FloatArray).every((v) => Math.abs(v) > 1e-3);
        })
        .map(([x, w, bias, activation]) => ({
          inputs: [x, w, bias],
          attrs: { ...attrs, activation },
        })),
    ),
});

/** [dx | dw | dbias] of fusedConv2dBackward as tensors of x's, w's and [Cout] shapes. */
function unpackConvGrads(
  packed: Tensor,
  xShape: Shape,
  wShape: Shape,
  inputGrad: boolean,
): [Tensor | null, Tensor, Tensor] {
  const dxSize = inputGrad ? shapeSize(xShape) : 0;
  const dwEnd = dxSize + shapeSize(wShape);
  return [
    inputGrad ? reshape(slice(packed, [0], [dxSize]), xShape) : null,
    reshape(slice(packed, [dxSize], [dwEnd]), wShape),
    slice(packed, [dwEnd]),
  ];
}

const fusedConv2dBackwardOp = defineOp({
  name: "fusedConv2dBackward",
  inputs: ["dy", "y", "x", "w"],
  forward: ([dy, y, x, w], attrs: FusedConv2dBackwardAttrs) => {
    const op = "fusedConv2dBackward";
    const data = [floats(op, "dy", dy), floats(op, "y", y), floats(op, "x", x), floats(op, "w", w)];
    const { params, yShape } = convGeometry(op, x.shape, w.shape, attrs, INPUTS);
    const why = `fusedConv2d's output for x ${showShape(x.shape)} and w ${showShape(w.shape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    expectShape(op, "y", y.shape, yShape, why);
    const plan: ConvBackwardPlan = {
      relu: checkActivation(op, attrs.activation) === "relu",
      inputGrad: booleanAttr(op, "inputGrad", attrs.inputGrad),
    };
    const dtype = dy.dtype === "float64" ? "float64" : resultType(x, w);
    const [dyData, yData, xData, wData] = data as [FloatArray, FloatArray, FloatArray, FloatArray];
    return convOutput(dtype, [convBackwardLayout(params, plan).size], (out) =>
      kernels().fusedConv2dBackward(dyData, yData, xData, wData, out, params, plan),
    );
  },
  // With g = dy·[y > 0] (or dy) the result is [BI(g, w), BF(x, g), Σ g], linear in g and in
  // each of x and w, so for a cotangent [gdx | gdw | gdb]: d(dy) is the mask applied to
  // conv2d(gdx, w) + conv2d(x, gdw) + gdb, dx = BI(g, gdw), dw = BF(gdx, g) (the identities
  // below); y only masks, and the mask is constant almost everywhere.
  vjp: ({ dy: cotangent, inputs: [dy, y, x, w], attrs, needsGrad }): (Tensor | null)[] => {
    const geometry = geometryOf(attrs);
    const relu = attrs.activation === "relu";
    const [gdx, gdw, gdb] = unpackConvGrads(cotangent, x.shape, w.shape, attrs.inputGrad);
    const g = relu ? reluBackward(dy, y) : dy;
    let dg: Tensor | null = null;
    if (needsGrad[0]) {
      dg = add(conv2dOp(x, gdw, geometry), reshape(gdb, [gdb.size, 1, 1]));
      if (gdx !== null) dg = add(dg, conv2dOp(gdx, w, geometry));
      if (relu) dg = reluBackward(dg, y);
    }
    return [
      dg,
      null,
      needsGrad[2] ? conv2dBackpropInputOp(g, gdw, { ...geometry, inputShape: x.shape }) : null,
      needsGrad[3] && gdx !== null
        ? conv2dBackpropFilterOp(gdx, g, { ...geometry, filterShape: w.shape })
        : null,
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
          kit.fc.boolean(),
        )
        .map(([dy, y, x, w, activation, inputGrad]) => ({
          inputs: [dy, y, x, w],
          attrs: { ...attrs, activation, inputGrad },
        })),
    ),
});

// conv2dBackpropInput is linear in dy and in w: ⟨g, BI(dy, w)⟩ = ⟨conv2d(g, w), dy⟩ =
// ⟨w, BF(g, dy)⟩. Likewise ⟨g, BF(x, dy)⟩ = ⟨conv2d(x, g), dy⟩ = ⟨x, BI(dy, g)⟩. So each of the
// three ops' vjps is written with the other two, and gradients of any order follow.

/** @internal The registered op, for convTranspose2d (which may need negative padding after). */
export const conv2dBackpropInputOp = defineOp({
  name: "conv2dBackpropInput",
  inputs: ["dy", "w"],
  forward: ([dy, w], attrs: Conv2dBackpropInputAttrs) => {
    const op = "conv2dBackpropInput";
    const dyData = floats(op, "dy", dy);
    const wData = floats(op, "w", w);
    const names = { x: "inputShape", w: "w" };
    const { params, yShape } = convGeometry(op, attrs.inputShape, w.shape, attrs, names);
    const why =
      `conv2d's output for inputShape ${showShape(attrs.inputShape)} ` +
      `and w ${showShape(w.shape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    return convOutput(resultType(dy, w), attrs.inputShape, (dx) =>
      kernels().conv2dBackpropInput(dyData, wData, dx, params),
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

const conv2dBackpropFilterOp = defineOp({
  name: "conv2dBackpropFilter",
  inputs: ["x", "dy"],
  forward: ([x, dy], attrs: Conv2dBackpropFilterAttrs) => {
    const op = "conv2dBackpropFilter";
    const xData = floats(op, "x", x);
    const dyData = floats(op, "dy", dy);
    const names = { x: "x", w: "filterShape" };
    const { params, yShape } = convGeometry(op, x.shape, attrs.filterShape, attrs, names);
    const why =
      `conv2d's output for x ${showShape(x.shape)} ` +
      `and filterShape ${showShape(attrs.filterShape)}`;
    expectShape(op, "dy", dy.shape, yShape, why);
    return convOutput(resultType(x, dy), attrs.filterShape, (dw) =>
      kernels().conv2dBackpropFilter(xData, dyData, dw, params),
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

/** @internal y + bias over the channel axis of [N, C, H, W] or [C, H, W]; its gradient is Σ dy. */
export function addBias(op: string, y: Tensor, bias: Tensor | undefined, channels: number): Tensor {
  if (bias === undefined) return y;
  checkBias(op, bias, channels);
  // Broadcasting [C, 1, 1] against the output: add's vjp sums dy over N, H and W.
  return add(y, reshape(bias, [channels, 1, 1]));
}

/** Requires a float tensor of shape [channels]. */
function checkBias(op: string, bias: unknown, channels: number): asserts bias is Tensor {
  if (!(bias instanceof Tensor)) {
    throw argumentError(op, `bias must be a Tensor, got ${typeof bias}`);
  }
  assertFloat(op, "bias", bias);
  if (!shapesEqual(bias.shape, [channels])) {
    throw shapeError(
      op,
      `bias must have shape [${channels}] (one value per output channel), ` +
        `got ${showShape(bias.shape)}`,
    );
  }
}

function checkActivation(op: string, activation: unknown): ConvActivation {
  if (activation !== "linear" && activation !== "relu") {
    throw argumentError(op, `activation must be "linear" or "relu", got ${show(activation)}`);
  }
  return activation;
}

/**
 * 2-D cross-correlation (CNN "convolution") of x [N, Cin, H, W] (or [Cin, H, W]) with
 * w [Cout, Cin/groups, kh, kw]: y[n,o,i,j] = bias[o] + Σ_{c,r,s} x[n, c, i·sh − pt + r·dh,
 * j·sw − pl + s·dw]·w[o,c,r,s], c over o's group; then relu with `activation: "relu"`. With a
 * bias this is one op, fusedConv2d. Gradient: dx = conv2dBackpropInput(dy, w),
 * dw = conv2dBackpropFilter(x, dy), dbias = Σ dy over N, H, W (dy through relu's rule first).
 */
export function conv2d(x: Tensor, w: Tensor, options?: Conv2dOptions): Tensor {
  assertTensor("conv2d", "x", x);
  assertTensor("conv2d", "w", w);
  const opts = optionsArgument("conv2d", options);
  const attrs = resolveConv2dAttrs("conv2d", "w", w.shape, opts);
  const activation = checkActivation("conv2d", opts.activation ?? "linear");
  if (opts.bias !== undefined) {
    checkBias("conv2d", opts.bias, w.shape[0]!);
    return fusedConv2dOp(x, w, opts.bias, { ...attrs, activation });
  }
  const y = conv2dOp(x, w, attrs);
  return activation === "relu" ? relu(y) : y;
}

/**
 * conv2d, plus bias and activation in the same kernel call: y = act(x ⋆ w + bias), bias [Cout]
 * added to every position of its channel, act relu or nothing ("linear"). Gradient, with
 * g = reluBackward(dy, y) for relu (y > 0 exactly where x ⋆ w + bias > 0), else dy:
 * dx = conv2dBackpropInput(g, w), dw = conv2dBackpropFilter(x, g), dbias = Σ g over N, H, W.
 */
export function fusedConv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor,
  options?: FusedConv2dOptions,
): Tensor {
  assertTensor("fusedConv2d", "x", x);
  assertTensor("fusedConv2d", "w", w);
  assertTensor("fusedConv2d", "bias", bias);
  const opts = optionsArgument("fusedConv2d", options);
  const attrs = resolveConv2dAttrs("fusedConv2d", "w", w.shape, opts);
  const activation = checkActivation("fusedConv2d", opts.activation ?? "linear");
  return fusedConv2dOp(x, w, bias, { ...attrs, activation });
}

/**
 * fusedConv2d's gradients from one kernel call, packed in a 1-D tensor [dx | dw | dbias] (dx
 * only with `inputGrad`): for y = fusedConv2d's output and g = reluBackward(dy, y) with
 * activation "relu" (else dy), dx = conv2dBackpropInput(g, w), dw = conv2dBackpropFilter(x, g),
 * dbias = Σ g over N, H, W. fusedConv2d's vjp is this op; only y's sign is read.
 */
export function fusedConv2dBackward(
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  w: Tensor,
  options?: FusedConv2dBackwardOptions,
): Tensor {
  const op = "fusedConv2dBackward";
  for (const [name, t] of [
    ["dy", dy],
    ["y", y],
    ["x", x],
    ["w", w],
  ] as const) {
    assertTensor(op, name, t);
  }
  const opts = optionsArgument(op, options);
  const attrs = resolveConv2dAttrs(op, "w", w.shape, opts);
  const activation = checkActivation(op, opts.activation ?? "linear");
  const inputGrad = booleanAttr(op, "inputGrad", opts.inputGrad ?? false);
  return fusedConv2dBackwardOp(dy, y, x, w, { ...attrs, activation, inputGrad });
}

/**
 * The gradient of conv2d with respect to x, a transposed convolution: every dy[n,o,i,j] adds
 * dy·w[o,c,·,·] into the window of x that made y[n,o,i,j] (Σ over o). Result: inputShape.
 * Gradient: d(dy) = conv2d(g, w), dw = conv2dBackpropFilter(g, dy).
 */
export function conv2dBackpropInput(
  dy: Tensor,
  w: Tensor,
  options: Conv2dBackpropInputOptions,
): Tensor {
  const op = "conv2dBackpropInput";
  assertTensor(op, "dy", dy);
  assertTensor(op, "w", w);
  const opts = optionsArgument(op, options);
  const attrs = resolveConv2dAttrs(op, "w", w.shape, opts);
  return conv2dBackpropInputOp(dy, w, { ...attrs, inputShape: opts.inputShape });
}

/**
 * The gradient of conv2d with respect to w: x cross-correlated with dy (dy as the kernel,
 * stride as its tap spacing), summed over the batch. Result: filterShape.
 * Gradient: dx = conv2dBackpropInput(dy, g), d(dy) = conv2d(x, g).
 */
export function conv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  options: Conv2dBackpropFilterOptions,
): Tensor {
  const op = "conv2dBackpropFilter";
  assertTensor(op, "x", x);
  assertTensor(op, "dy", dy);
  const opts = optionsArgument(op, options);
  const attrs = resolveConv2dAttrs(op, "filterShape", opts.filterShape, opts);
  return conv2dBackpropFilterOp(x, dy, { ...attrs, filterShape: opts.filterShape });
}
