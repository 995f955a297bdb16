import {
  avgPool2d as avgPool2dOp,
  globalAvgPool2d as globalAvgPool2dOp,
  maxPool2d as maxPool2dOp,
  type AvgPool2dAttrs,
  type MaxPool2dAttrs,
} from "@tapegrad/autodiff";
import { statelessLayer, type Layer } from "../layer.js";
import {
  argumentError,
  booleanOption,
  optionsObject,
  pairOf,
  showShape,
  type NoState,
} from "./check.js";

/** Checks pooling attrs when the layer is built, so a typo fails before the first batch. */
function checkPoolAttrs(where: string, attrs: MaxPool2dAttrs & AvgPool2dAttrs): void {
  optionsObject(where, attrs);
  const kernel = pairOf(where, "kernelSize", attrs.kernelSize, 1);
  if (attrs.stride !== undefined) pairOf(where, "stride", attrs.stride, 1);
  if (attrs.dilation !== undefined) pairOf(where, "dilation", attrs.dilation, 1);
  const padding = pairOf(where, "padding", attrs.padding ?? 0, 0);
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw argumentError(
      where,
      `padding must be at most half of kernelSize, got padding ${showShape(padding)} ` +
        `for kernelSize ${showShape(kernel)}`,
    );
  }
  if (attrs.ceilMode !== undefined) booleanOption(where, "ceilMode", attrs.ceilMode);
  if (attrs.countIncludePad !== undefined) {
    booleanOption(where, "countIncludePad", attrs.countIncludePad);
  }
}

/**
 * Max pooling over kh×kw windows of NCHW data (stride defaults to kernelSize). Gradient: the
 * maxPool2d op's, dy to the first maximum of each window in row-major order.
 */
export function maxPool2d(attrs: MaxPool2dAttrs): Layer<NoState, NoState> {
  checkPoolAttrs("maxPool2d", attrs);
  const copy = { ...attrs };
  return statelessLayer("maxPool2d", (x) => maxPool2dOp(x, copy));
}

/**
 * Average pooling over kh×kw windows of NCHW data (stride defaults to kernelSize; padded cells
 * count in the divisor unless countIncludePad is false). Gradient: dy spread evenly over windows.
 */
export function avgPool2d(attrs: AvgPool2dAttrs): Layer<NoState, NoState> {
  if (attrs !== null && typeof attrs === "object" && "dilation" in attrs) {
    throw argumentError("avgPool2d", "dilation is not an option of average pooling");
  }
  checkPoolAttrs("avgPool2d", attrs);
  const copy = { ...attrs };
  return statelessLayer("avgPool2d", (x) => avgPool2dOp(x, copy));
}

/** The mean of each plane: [N, C, H, W] → [N, C, 1, 1] (PyTorch's AdaptiveAvgPool2d(1)). */
export function globalAvgPool2d(): Layer<NoState, NoState> {
  return statelessLayer("globalAvgPool2d", (x) => globalAvgPool2dOp(x));
}
