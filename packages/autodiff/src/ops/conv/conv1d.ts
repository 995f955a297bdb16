import { argumentError, shapeError, show, showShape } from "../../errors.js";
import { assertSizeWithinLimit } from "../../shape.js";
import type { Tensor } from "../../tensor.js";
import { reshape } from "../reshape.js";
import { assertFloat, assertTensor, optionsArgument } from "../util.js";
import { axisGeometry } from "../window.js";
import { fusedConv2dOp } from "./fused.js";
import { checkBias, type Conv2dAttrs } from "./geometry.js";
import { conv2dOp } from "./ops.js";

/** Options of conv1d, with PyTorch's meaning of each. */
export interface Conv1dOptions {
  /** Default 1. */
  readonly stride?: number;
  /**
   * Zeros before and after the sequence: a number for both ends, [left, right], 'valid' (none) or
   * 'same' (output length = input length; stride 1; an odd extra cell goes on the right).
   */
  readonly padding?: number | readonly [number, number] | "valid" | "same";
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: number;
  /** Channel groups (default 1); groups = Cin is a depthwise convolution. */
  readonly groups?: number;
  /** [Cout], added to every position of its output channel. */
  readonly bias?: Tensor;
}

const OP = "conv1d";

function integerOption(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw argumentError(OP, `${name} must be an integer ≥ ${min}, got ${show(value)}`);
  }
  return value;
}

function resolvePadding(
  padding: unknown,
  kernel: number,
  dilation: number,
  stride: number,
): [number, number] {
  if (padding === "valid") return [0, 0];
  if (padding === "same") {
    if (stride !== 1)
      throw argumentError(OP, `padding 'same' needs stride 1, got stride ${stride}`);
    const total = dilation * (kernel - 1);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  if (typeof padding === "number") {
    const p = integerOption("padding", padding, 0);
    return [p, p];
  }
  if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => typeof p === "number" && Number.isInteger(p) && p >= 0)
  ) {
    return [padding[0] as number, padding[1] as number];
  }
  throw argumentError(
    OP,
    `padding must be an integer ≥ 0, a pair [left, right] of them, 'valid' or 'same', ` +
      `got ${show(padding)}`,
  );
}

/** Requires a positive integer `groups` dividing both channel counts and matching w. */
function checkGroups(groups: unknown, x: Tensor, w: Tensor): number {
  const cin = x.shape[x.ndim - 2]!;
  const [cout, perGroup] = w.shape as [number, number, number];
  const g = integerOption("groups", groups, 1);
  if (cin % g !== 0) {
    throw shapeError(
      OP,
      `groups ${g} must divide the ${cin} input channels of x (x is ${showShape(x.shape)})`,
    );
  }
  if (cout % g !== 0) {
    throw shapeError(
      OP,
      `groups ${g} must divide the ${cout} output channels of w (w is ${showShape(w.shape)})`,
    );
  }
  if (cin / g !== perGroup) {
    const split = g > 1 ? `, ${cin / g} per group` : "";
    throw shapeError(
      OP,
      `w expects ${perGroup} input channels per group (w is ${showShape(w.shape)}, groups ${g}) ` +
        `but x has ${cin} channels${split} (x is ${showShape(x.shape)})`,
    );
  }
  return g;
}

/**
 * 1-D cross-correlation of x [N, Cin, L] (or [Cin, L]) with w [Cout, Cin/groups, k], as PyTorch's
 * conv1d: y[n,o,i] = bias[o] + Σ_{c,r} x[n, c, i·s − left + r·d]·w[o,c,r], c over o's group.
 * Computed as conv2d of x [N, Cin, 1, L] with w [Cout, Cin/groups, 1, k], whose ops give the
 * gradients: dx = conv2dBackpropInput, dw = conv2dBackpropFilter, dbias = Σ dy over N and L.
 */
export function conv1d(x: Tensor, w: Tensor, options?: Conv1dOptions): Tensor {
  assertTensor(OP, "x", x);
  assertTensor(OP, "w", w);
  const opts = optionsArgument(OP, options);
  assertFloat(OP, "x", x);
  assertFloat(OP, "w", w);
  if (x.ndim !== 2 && x.ndim !== 3) {
    throw shapeError(OP, `x must be 3-D [N, C, L] or 2-D [C, L], got shape ${showShape(x.shape)}`);
  }
  if (x.shape.slice(-2).some((d) => d < 1)) {
    throw shapeError(
      OP,
      `x must have positive channel and length sizes, got shape ${showShape(x.shape)}`,
    );
  }
  if (w.ndim !== 3 || w.shape.some((d) => d < 1)) {
    throw shapeError(
      OP,
      `w must be 3-D [Cout, Cin/groups, k] with positive sizes, got shape ${showShape(w.shape)}`,
    );
  }
  const groups = checkGroups(opts.groups ?? 1, x, w);
  const [cout, perGroup, kernel] = w.shape as [number, number, number];
  const lead = x.shape.slice(0, -2);
  const length = x.shape[x.ndim - 1]!;
  const stride = integerOption("stride", opts.stride ?? 1, 1);
  const dilation = integerOption("dilation", opts.dilation ?? 1, 1);
  const [left, right] = resolvePadding(opts.padding ?? 0, kernel, dilation, stride);
  // The checks conv2d would make on its width axis, here so that errors name conv1d's length.
  const axis = axisGeometry(OP, "length", {
    size: length,
    kernel,
    stride,
    dilation,
    padBefore: left,
    padAfter: right,
  });
  if (opts.bias !== undefined) checkBias(OP, opts.bias, cout);
  const yShape = [...lead, cout, axis.out];
  assertSizeWithinLimit(OP, yShape);

  const images = reshape(x, [...lead, x.shape[x.ndim - 2]!, 1, length]);
  const filters = reshape(w, [cout, perGroup, 1, kernel]);
  const attrs: Conv2dAttrs = {
    stride: [1, stride],
    padding: [
      [0, 0],
      [left, right],
    ],
    dilation: [1, dilation],
    groups,
  };
  // The registered ops, not conv2d itself: its padding option has no [left, right] form.
  const y =
    opts.bias === undefined
      ? conv2dOp(images, filters, attrs)
      : fusedConv2dOp(images, filters, opts.bias, { ...attrs, activation: "linear" });
  return reshape(y, yShape);
}
