import type { Shape } from "../../shape.js";
import type { Tensor } from "../../tensor.js";
import { relu } from "../unary.js";
import { assertTensor, optionsArgument } from "../util.js";
import {
  checkActivation,
  checkBias,
  resolveConv2dAttrs,
  type Conv2dGeometryOptions,
  type ConvActivation,
} from "./geometry.js";
import { fusedConv2dBackwardOp, fusedConv2dOp, fusedConv2dParamGradOp } from "./fused.js";
import { conv2dBackpropFilterOp, conv2dBackpropInputOp, conv2dOp } from "./ops.js";

/** Options of conv2d: the geometry, an optional bias and an activation. */
export interface Conv2dOptions extends Conv2dGeometryOptions {
  /** [Cout], added to every position of its output channel. */
  readonly bias?: Tensor;
  /**
   * Applied to the output after the bias (default "linear": nothing). With a bias, both run
   * inside the convolution's kernel call (fusedConv2d) instead of as two more passes over y.
   */
  readonly activation?: ConvActivation;
}

/** Options of fusedConv2d and fusedConv2dBackward: the geometry and the activation. */
export interface FusedConv2dOptions extends Conv2dGeometryOptions {
  /** Applied after the bias (default "linear": nothing). */
  readonly activation?: ConvActivation;
}

/** Options of conv2dBackpropInput: the geometry and the shape of conv2d's x. */
export interface Conv2dBackpropInputOptions extends Conv2dGeometryOptions {
  /** The shape of conv2d's x, [N, Cin, H, W] or [Cin, H, W]: the shape of the result. */
  readonly inputShape: Shape;
}

/** Options of conv2dBackpropFilter: the geometry and the shape of conv2d's w. */
export interface Conv2dBackpropFilterOptions extends Conv2dGeometryOptions {
  /** The shape of conv2d's w, [Cout, Cin/groups, kh, kw]: the shape of the result. */
  readonly filterShape: Shape;
}

/** The checks every public conv function starts with: its tensors, then its options object. */
function checkCall<O extends object>(
  op: string,
  tensors: Readonly<Record<string, unknown>>,
  options: O | undefined,
): O {
  for (const [name, t] of Object.entries(tensors)) assertTensor(op, name, t);
  return optionsArgument(op, options);
}

/**
 * 2-D cross-correlation (CNN "convolution") of x [N, Cin, H, W] (or [Cin, H, W]) with
 * w [Cout, Cin/groups, kh, kw]: y[n,o,i,j] = bias[o] + Σ_{c,r,s} x[n, c, i·sh − pt + r·dh,
 * j·sw − pl + s·dw]·w[o,c,r,s], c over o's group; then relu with `activation: "relu"`. With a
 * bias this is one op, fusedConv2d. Gradient: dx = conv2dBackpropInput(dy, w),
 * dw = conv2dBackpropFilter(x, dy), dbias = Σ dy over N, H, W (dy through relu's rule first).
 */
export function conv2d(x: Tensor, w: Tensor, options?: Conv2dOptions): Tensor {
  const opts = checkCall("conv2d", { x, w }, options);
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
  const opts = checkCall("fusedConv2d", { x, w, bias }, options);
  const attrs = resolveConv2dAttrs("fusedConv2d", "w", w.shape, opts);
  const activation = checkActivation("fusedConv2d", opts.activation ?? "linear");
  return fusedConv2dOp(x, w, bias, { ...attrs, activation });
}

/**
 * fusedConv2d's three gradients from one kernel call, [dx, dw, dbias]: for y = fusedConv2d's
 * output and g = reluBackward(dy, y) with activation "relu" (else dy),
 * dx = conv2dBackpropInput(g, w), dw = conv2dBackpropFilter(x, g), dbias = Σ g over N, H, W.
 * fusedConv2d's vjp when x and a parameter both need a gradient; only y's sign is read.
 */
export function fusedConv2dBackward(
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  w: Tensor,
  options?: FusedConv2dOptions,
): readonly [dx: Tensor, dw: Tensor, dbias: Tensor] {
  const op = "fusedConv2dBackward";
  const opts = checkCall(op, { dy, y, x, w }, options);
  const attrs = resolveConv2dAttrs(op, "w", w.shape, opts);
  const activation = checkActivation(op, opts.activation ?? "linear");
  return fusedConv2dBackwardOp(dy, y, x, w, { ...attrs, activation });
}

/**
 * fusedConv2dBackward without the input gradient, [dw, dbias] from one kernel call: fusedConv2d's
 * vjp when only its parameters need gradients (x is a network's input).
 */
export function fusedConv2dParamGrad(
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  w: Tensor,
  options?: FusedConv2dOptions,
): readonly [dw: Tensor, dbias: Tensor] {
  const op = "fusedConv2dParamGrad";
  const opts = checkCall(op, { dy, y, x, w }, options);
  const attrs = resolveConv2dAttrs(op, "w", w.shape, opts);
  const activation = checkActivation(op, opts.activation ?? "linear");
  return fusedConv2dParamGradOp(dy, y, x, w, { ...attrs, activation });
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
  const opts = checkCall(op, { dy, w }, options);
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
  const opts = checkCall(op, { x, dy }, options);
  const attrs = resolveConv2dAttrs(op, "filterShape", opts.filterShape, opts);
  return conv2dBackpropFilterOp(x, dy, { ...attrs, filterShape: opts.filterShape });
}
