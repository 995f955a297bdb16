import { argumentError, shapeError, show, showShape } from "../../errors.js";
import { assertSizeWithinLimit } from "../../shape.js";
import type { Tensor } from "../../tensor.js";
import { add } from "../binary.js";
import { reshape } from "../reshape.js";
import { assertFloat, assertTensor, optionsArgument } from "../util.js";
import { resolvePair, type Pair } from "../window.js";
import { checkBias } from "./geometry.js";
import { conv2dBackpropInputOp } from "./ops.js";

/** Geometry and bias of convTranspose2d, with PyTorch's meaning of each option. */
export interface ConvTranspose2dOptions {
  /** [Cout], added to every position of its output channel. */
  readonly bias?: Tensor;
  /** Default 1. */
  readonly stride?: Pair;
  /** Removed from both ends of each spatial axis of the output (default 0). */
  readonly padding?: Pair;
  /** Added after the end of each spatial axis (default 0); less than stride or dilation. */
  readonly outputPadding?: Pair;
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: Pair;
  /** Channel groups (default 1). */
  readonly groups?: number;
}

const OP = "convTranspose2d";

/**
 * Transposed convolution (PyTorch's conv_transpose2d) of x [N, Cin, H, W] (or [Cin, H, W]) with
 * w [Cin, Cout/groups, kh, kw]: each x[n,c,i,j] adds x·w[c,o,·,·] into the output window at
 * (i·s − p, j·s − p); Hout = (H − 1)·s − 2p + d·(kh − 1) + outputPadding + 1. It is conv2d's
 * input gradient, computed by conv2dBackpropInput. Gradient: dx = conv2d(dy, w),
 * dw = conv2dBackpropFilter(dy, x), dbias = Σ dy over N, H, W.
 */
export function convTranspose2d(x: Tensor, w: Tensor, options?: ConvTranspose2dOptions): Tensor {
  assertTensor(OP, "x", x);
  assertTensor(OP, "w", w);
  assertFloat(OP, "x", x);
  assertFloat(OP, "w", w);
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw shapeError(
      OP,
      `x must be 4-D [N, C, H, W] or 3-D [C, H, W], got shape ${showShape(x.shape)}`,
    );
  }
  if (w.ndim !== 4) {
    throw shapeError(
      OP,
      `w must be 4-D [Cin, Cout/groups, kh, kw], got shape ${showShape(w.shape)}`,
    );
  }
  const [inChannels, height, width] = x.shape.slice(-3) as [number, number, number];
  const [wChannels, outPerGroup, kernelH, kernelW] = w.shape as [number, number, number, number];
  if (wChannels !== inChannels) {
    throw shapeError(
      OP,
      `w expects ${wChannels} input channels (w is ${showShape(w.shape)}) but x has ` +
        `${inChannels} channels (x is ${showShape(x.shape)})`,
    );
  }
  const opts = optionsArgument(OP, options);
  const { groups = 1 } = opts;
  if (!Number.isInteger(groups) || groups < 1) {
    throw argumentError(OP, `groups must be a positive integer, got ${show(groups)}`);
  }
  if (inChannels % groups !== 0) {
    throw shapeError(
      OP,
      `groups ${groups} must divide the ${inChannels} input channels of x ` +
        `(x is ${showShape(x.shape)})`,
    );
  }
  const stride = resolvePair(OP, "stride", opts.stride ?? 1, 1);
  const dilation = resolvePair(OP, "dilation", opts.dilation ?? 1, 1);
  const padding = resolvePair(OP, "padding", opts.padding ?? 0, 0);
  const outputPadding = resolvePair(OP, "outputPadding", opts.outputPadding ?? 0, 0);
  if (outputPadding.some((op, axis) => op >= Math.max(stride[axis]!, dilation[axis]!))) {
    throw argumentError(
      OP,
      `outputPadding must be smaller than stride or dilation on each axis, got outputPadding ` +
        `[${outputPadding.join(",")}] with stride [${stride.join(",")}] and dilation ` +
        `[${dilation.join(",")}]`,
    );
  }
  const outSize = (axis: 0 | 1, name: string, size: number, kernel: number): number => {
    const [s, p, d, op] = [stride[axis], padding[axis], dilation[axis], outputPadding[axis]];
    const out = (size - 1) * s - 2 * p + d * (kernel - 1) + op + 1;
    if (out < 1) {
      throw shapeError(
        OP,
        `the output ${name} (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1 = ` +
          `(${size} − 1)·${s} − 2·${p} + ${d}·(${kernel} − 1) + ${op} + 1 = ${out} is not positive`,
      );
    }
    return out;
  };
  const outChannels = outPerGroup * groups;
  const inputShape = [
    ...x.shape.slice(0, -3),
    outChannels,
    outSize(0, "height", height, kernelH),
    outSize(1, "width", width, kernelW),
  ];
  assertSizeWithinLimit(OP, inputShape);
  // conv2d with padding p before and p − outputPadding after maps inputShape back to x's size
  // exactly, so x plays dy; a negative "after" means the last rows get no contribution.
  const y = conv2dBackpropInputOp(x, w, {
    stride,
    padding: [
      [padding[0], padding[0] - outputPadding[0]],
      [padding[1], padding[1] - outputPadding[1]],
    ],
    dilation,
    groups,
    inputShape,
  });
  if (opts.bias === undefined) return y;
  checkBias(OP, opts.bias, outChannels);
  // Broadcasting [C, 1, 1] against the output: add's vjp sums dy over N, H and W.
  return add(y, reshape(opts.bias, [outChannels, 1, 1]));
}
