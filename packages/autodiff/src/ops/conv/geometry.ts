import type { Conv2dParams } from "../../kernels/conv.js";
import { argumentError, shapeError, show, showShape } from "../../errors.js";
import { assertSizeWithinLimit, shapesEqual, type Shape } from "../../shape.js";
import type { FloatDType } from "../../dtype.js";
import { Tensor } from "../../tensor.js";
import { assertFloat } from "../util.js";
import {
  axisGeometry,
  resolveConvPadding,
  resolvePair,
  type Padding,
  type Pair,
} from "../window.js";

// The geometry every convolution op shares: x [N, Cin, H, W] (or [Cin, H, W]) ⋆ w [Cout,
// Cin/groups, kh, kw] → y [N, Cout, Hout, Wout], its validation and its kernel params.

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

/** What the kernels need and the shape of conv2d's output. */
export interface ConvGeometry {
  readonly params: Conv2dParams;
  readonly yShape: number[];
}

/** How error messages name x's and w's shapes: an input, or a shape attr of a backprop op. */
export interface ShapeNames {
  readonly x: string;
  readonly w: string;
}

export const INPUTS: ShapeNames = { x: "x", w: "w" };

function isShape(shape: unknown): shape is Shape {
  return (
    Array.isArray(shape) &&
    shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  );
}

/** Requires w to be [Cout, Cin/groups, kh, kw] with positive sizes. */
export function checkFilterShape(op: string, name: string, shape: unknown): asserts shape is Shape {
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
export function convGeometry(
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
export function geometryOf(attrs: Conv2dAttrs): Conv2dAttrs {
  const { stride, padding, dilation, groups } = attrs;
  return { stride, padding, dilation, groups };
}

/** float64 if either operand is, else float32 (as matmul). */
export function resultType(a: Tensor, b: Tensor): FloatDType {
  return a.dtype === "float64" || b.dtype === "float64" ? "float64" : "float32";
}

/** Requires `shape` to equal `expected`; `why` says where the expected shape comes from. */
export function expectShape(
  op: string,
  name: string,
  shape: Shape,
  expected: Shape,
  why: string,
): void {
  if (!shapesEqual(shape, expected)) {
    throw shapeError(
      op,
      `${name} must have shape ${showShape(expected)} (${why}), got ${showShape(shape)}`,
    );
  }
}

/** Requires a float tensor of shape [channels]. */
export function checkBias(op: string, bias: unknown, channels: number): asserts bias is Tensor {
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

export function checkActivation(op: string, activation: unknown): ConvActivation {
  if (activation !== "linear" && activation !== "relu") {
    throw argumentError(op, `activation must be "linear" or "relu", got ${show(activation)}`);
  }
  return activation;
}
