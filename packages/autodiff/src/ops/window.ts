import { MAX_TENSOR_SIZE } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";

/**
 * Output-size arithmetic for sliding windows (convolution and pooling), in one place for every
 * forward op, vjp and validation. Along one axis, a window of size k with dilation d spans
 * d·(k − 1) + 1 input cells; with padding p (before) + q (after) and stride s:
 *   out = floor((in + p + q − d·(k − 1) − 1) / s) + 1        (ceil instead of floor in ceilMode)
 */

/** A number for both spatial axes, or `[height, width]`. */
export type Pair = number | readonly [number, number];

/** Convolution padding: symmetric per axis, `'valid'` (none) or `'same'` (output = input size). */
export type Padding = Pair | "valid" | "same";

/** The resolved geometry of one spatial axis. */
export interface AxisGeometry {
  readonly size: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  /** Implicit zero padding before the first and after the last input cell. */
  readonly padBefore: number;
  readonly padAfter: number;
  readonly out: number;
}

/** The geometry of a 2-D window op over NCHW data. */
export interface Window2d {
  readonly h: AxisGeometry;
  readonly w: AxisGeometry;
}

/** Resolves `value` (number or pair) for `name`, requiring integers ≥ `min`. */
export function resolvePair(op: string, name: string, value: Pair, min: number): [number, number] {
  const pair: readonly unknown[] = typeof value === "number" ? [value, value] : value;
  if (
    !Array.isArray(pair) ||
    pair.length !== 2 ||
    !pair.every((v) => typeof v === "number" && Number.isInteger(v) && v >= min)
  ) {
    throw argumentError(
      op,
      `${name} must be an integer ≥ ${min} or a pair of them, got ${show(value)}`,
    );
  }
  return [pair[0] as number, pair[1] as number];
}

interface AxisSpec {
  readonly size: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly padBefore: number;
  readonly padAfter: number;
  readonly ceilMode?: boolean;
}

/**
 * Output size along one axis. In ceilMode a last, partial window is kept only if it starts inside
 * the input or its leading padding (the rule PyTorch uses), so no window lies wholly in padding.
 */
export function windowOutputSize(spec: AxisSpec): number {
  const span = spec.dilation * (spec.kernel - 1) + 1;
  const room = spec.size + spec.padBefore + spec.padAfter - span;
  if (room < 0) return 0;
  if (!spec.ceilMode) return Math.floor(room / spec.stride) + 1;
  let out = Math.ceil(room / spec.stride) + 1;
  if ((out - 1) * spec.stride >= spec.size + spec.padBefore) out--;
  return out;
}

/**
 * Resolves one axis and checks that at least one window fits, naming the op and the numbers.
 * `axisName` is "height" or "width".
 */
export function axisGeometry(op: string, axisName: string, spec: AxisSpec): AxisGeometry {
  assertIndexable(op, axisName, spec);
  const out = windowOutputSize(spec);
  if (out <= 0) {
    const span = spec.dilation * (spec.kernel - 1) + 1;
    const padded = spec.size + spec.padBefore + spec.padAfter;
    throw shapeError(
      op,
      `the ${axisName} window (kernel ${spec.kernel}, dilation ${spec.dilation}: span ${span}) ` +
        `is larger than the padded input ${axisName} ${padded} ` +
        `(${spec.size} + padding ${spec.padBefore}+${spec.padAfter})`,
    );
  }
  const { size, kernel, stride, dilation, padBefore, padAfter } = spec;
  return { size, kernel, stride, dilation, padBefore, padAfter, out };
}

/**
 * Kernels (the wasm ones in int32) compute input positions as o·stride − padBefore + r·dilation,
 * which stays within ±(2^31 − 1) when the padded input, the window span and the stride do.
 */
function assertIndexable(op: string, axisName: string, spec: AxisSpec): void {
  const padded = spec.size + spec.padBefore + Math.max(spec.padAfter, 0);
  const span = spec.dilation * (spec.kernel - 1) + 1;
  if (padded <= MAX_TENSOR_SIZE && span <= MAX_TENSOR_SIZE && spec.stride <= MAX_TENSOR_SIZE) {
    return;
  }
  throw argumentError(
    op,
    `the ${axisName} geometry is too large: padded input ${padded} (${spec.size} + padding ` +
      `${spec.padBefore}+${spec.padAfter}), window span ${span} (kernel ${spec.kernel}, dilation ` +
      `${spec.dilation}) and stride ${spec.stride} must each be at most ${MAX_TENSOR_SIZE}`,
  );
}

/**
 * Resolves convolution padding to [before, after] per axis. 'same' needs stride 1 and splits an
 * odd total with the extra cell after (bottom/right), as PyTorch and TensorFlow do.
 */
export function resolveConvPadding(
  op: string,
  padding: Padding,
  kernel: readonly [number, number],
  dilation: readonly [number, number],
  stride: readonly [number, number],
): [[number, number], [number, number]] {
  if (padding === "valid")
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw argumentError(op, `padding 'same' needs stride 1, got stride [${stride.join(",")}]`);
    }
    const split = (k: number, d: number): [number, number] => {
      const total = d * (k - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [split(kernel[0], dilation[0]), split(kernel[1], dilation[1])];
  }
  const [ph, pw] = resolvePair(op, "padding", padding, 0);
  return [
    [ph, ph],
    [pw, pw],
  ];
}

/** Requires an NCHW tensor shape, naming the op and argument. */
export function assertNCHW(op: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 4) {
    throw shapeError(op, `${name} must be 4-D [N, C, H, W], got shape ${showShape(shape)}`);
  }
}
