import type { FloatArray } from "../dtype.js";
import { jsElementwiseKernels } from "./elementwise.js";
import { gemm } from "./matmul.js";
import { jsReduceKernels } from "./reduce.js";

// Index letters, the same in every loop of this file:
//   n sample   g group   c input channel (within a group)   o output channel (within a group)
//   y, x input row and column   i, j output row and column   r, s kernel row and column
// Layouts, row-major: x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw], y [N, Cout, Hout, Wout].
// Output (i, j) meets kernel tap (r, s) at input cell
//   y = i·strideH − padTop + r·dilationH,   x = j·strideW − padLeft + s·dilationW,
// and cells outside the input are the implicit zero padding.
//
// Each (sample, group) pair is one GEMM over its column matrix col [K, P], where row (c, r, s),
// K = Cin/groups·kh·kw, holds input cell (y, x) of tap (r, s) for every output column (i, j),
// P = Hout·Wout:
//   forward          y[n, g] (Cout/groups × P) += w[g] (Cout/groups × K) · col
//   backprop input   col = w[g]ᵀ · dy[n, g], then col2im adds each entry back into dx[n, g]
//   backprop filter  dw[g] (Cout/groups × K) += dy[n, g] · colᵀ
// Transposes are the GEMM's flags, never copies. In js, im2col + GEMM is the only path, even for
// one input channel, where it beat a direct loop (see
// docs/performance.md#wasm-thresholds-and-kernel-choices); the wasm backend also has direct SIMD
// kernels, assembly/convDirect.ts.

/** The geometry of one 2-D convolution, resolved and validated by the op. */
export interface Conv2dParams {
  readonly batch: number;
  readonly inChannels: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly strideH: number;
  readonly strideW: number;
  /**
   * Zero padding before the first row and column. Padding after the last only changes
   * outH and outW, which already account for it, so the kernels never need it.
   */
  readonly padTop: number;
  readonly padLeft: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly groups: number;
  readonly outH: number;
  readonly outW: number;
}

/**
 * What conv2d does to its sums before returning them: y[n, o, ·] = act(y[n, o, ·] + bias[o]),
 * act relu or the identity. Done inside the kernel call, where y is still hot in cache (and, on
 * the wasm backend, before the one copy out), instead of by two more passes over y.
 */
export interface ConvEpilogue {
  /** [Cout], the same dtype as y. */
  readonly bias: FloatArray;
  /** max(·, 0) after the bias (NaN and −0 give +0, as the relu kernel). */
  readonly relu: boolean;
}

/** Elements of the filter w [Cout, Cin/groups, kh, kw], and of its gradient. */
export function filterSize(p: Conv2dParams): number {
  return p.outChannels * (p.inChannels / p.groups) * p.kernelH * p.kernelW;
}

/**
 * Every output arrives with unspecified contents (ops do not zero-fill it) and is written in
 * full: the js kernels below zero it first and accumulate, a backend that computes elsewhere
 * may simply copy its result over it.
 */
export interface ConvKernels {
  /** y = x ⋆ w: cross-correlation of x [N, Cin, H, W] with w; y is [N, Cout, Hout, Wout]. */
  conv2d(x: FloatArray, w: FloatArray, y: FloatArray, p: Conv2dParams): void;
  /**
   * conv2d, then the epilogue on y. A kernel of its own (not an optional argument of conv2d),
   * so that a backend without it falls back to js instead of dropping the bias.
   */
  fusedConv2d(
    x: FloatArray,
    w: FloatArray,
    y: FloatArray,
    p: Conv2dParams,
    epilogue: ConvEpilogue,
  ): void;
  /** dx = the gradient of conv2d with respect to x, for upstream gradient dy (Σ over o). */
  conv2dBackpropInput(dy: FloatArray, w: FloatArray, dx: FloatArray, p: Conv2dParams): void;
  /** dw = the gradient of conv2d with respect to w, for upstream gradient dy (Σ over n). */
  conv2dBackpropFilter(x: FloatArray, dy: FloatArray, dw: FloatArray, p: Conv2dParams): void;
  /**
   * fusedConv2d's gradients in one call: with g = dy·[y > 0] for relu, else g = dy (and y is not
   * read), dx = conv2dBackpropInput(g, w) (skipped when dx is null: x needs no gradient),
   * dw = conv2dBackpropFilter(x, g) and db [Cout] = Σ g over samples and positions, each exactly
   * as those kernels and the sum reduction make it. One call, so that a backend which copies
   * operands into its own memory forms g there instead of three ops copying it back and forth.
   */
  fusedConv2dBackward(
    dy: FloatArray,
    y: FloatArray,
    x: FloatArray,
    w: FloatArray,
    dx: FloatArray | null,
    dw: FloatArray,
    db: FloatArray,
    p: Conv2dParams,
    relu: boolean,
  ): void;
}

/** Sizes of one (sample, group) pair's operands. */
interface GroupSizes {
  readonly cin: number;
  readonly cout: number;
  /** Rows of the column matrix: Cin/groups·kh·kw. */
  readonly k: number;
  /** Columns of the column matrix: Hout·Wout. */
  readonly p: number;
}

function groupSizes(params: Conv2dParams): GroupSizes {
  const cin = params.inChannels / params.groups;
  const cout = params.outChannels / params.groups;
  return { cin, cout, k: cin * params.kernelH * params.kernelW, p: params.outH * params.outW };
}

/**
 * A 1×1 convolution with stride 1 and no padding reads every input cell once in order, so its
 * column matrix is the input itself and im2col/col2im can be skipped.
 */
function isPointwise(params: Conv2dParams): boolean {
  return (
    params.kernelH === 1 &&
    params.kernelW === 1 &&
    params.strideH === 1 &&
    params.strideW === 1 &&
    params.padTop === 0 &&
    params.padLeft === 0 &&
    params.outH === params.height &&
    params.outW === params.width
  );
}

// The column matrix is reused across calls (kernels never re-enter) and always float64, like
// the GEMM's packing buffers: float32 inputs are widened exactly, once.
let columns = new Float64Array(0);

function scratch(size: number): Float64Array {
  if (columns.length < size) columns = new Float64Array(size);
  return columns;
}

/**
 * The output columns j whose input column j·stride + shift lies inside [0, size): the range
 * [lo, hi), so the copy loops below need no bounds test per element.
 */
function validRange(
  shift: number,
  stride: number,
  size: number,
  outSize: number,
): [number, number] {
  const lo = Math.min(outSize, Math.max(0, Math.ceil(-shift / stride)));
  const hi = Math.max(lo, Math.min(outSize, Math.ceil((size - shift) / stride)));
  return [lo, hi];
}

/** Fills col [K, P] from the Cin/groups channels of x that start at xo (one sample, one group). */
function im2col(x: FloatArray, xo: number, col: Float64Array, params: Conv2dParams, cin: number) {
  const { height, width, kernelH, kernelW, strideH, strideW, outH, outW } = params;
  const planeSize = height * width;
  let row = 0;
  for (let c = 0; c < cin; c++) {
    const plane = xo + c * planeSize;
    for (let r = 0; r < kernelH; r++) {
      const yShift = r * params.dilationH - params.padTop;
      for (let s = 0; s < kernelW; s++) {
        const xShift = s * params.dilationW - params.padLeft;
        const [lo, hi] = validRange(xShift, strideW, width, outW);
        for (let i = 0; i < outH; i++) {
          const out = row + i * outW;
          const y = i * strideH + yShift;
          if (y < 0 || y >= height) {
            col.fill(0, out, out + outW);
            continue;
          }
          const src = plane + y * width + xShift;
          col.fill(0, out, out + lo);
          for (let j = lo; j < hi; j++) col[out + j] = x[src + j * strideW]!;
          col.fill(0, out + hi, out + outW);
        }
        row += outH * outW;
      }
    }
  }
}

/** The adjoint of im2col: adds every entry of col [K, P] into the input cell it was read from. */
function col2im(col: Float64Array, dx: FloatArray, xo: number, params: Conv2dParams, cin: number) {
  const { height, width, kernelH, kernelW, strideH, strideW, outH, outW } = params;
  const planeSize = height * width;
  let row = 0;
  for (let c = 0; c < cin; c++) {
    const plane = xo + c * planeSize;
    for (let r = 0; r < kernelH; r++) {
      const yShift = r * params.dilationH - params.padTop;
      for (let s = 0; s < kernelW; s++) {
        const xShift = s * params.dilationW - params.padLeft;
        const [lo, hi] = validRange(xShift, strideW, width, outW);
        for (let i = 0; i < outH; i++) {
          const y = i * strideH + yShift;
          if (y < 0 || y >= height) continue;
          const dst = plane + y * width + xShift;
          const src = row + i * outW;
          for (let j = lo; j < hi; j++) dx[dst + j * strideW] += col[src + j]!;
        }
        row += outH * outW;
      }
    }
  }
}

/**
 * Calls `visit` for every (sample, group) pair, in order, with the offsets of its block of x
 * (Cin/groups planes), of y or dy (Cout/groups planes) and of w (the group's filters).
 */
function forEachSampleGroup(
  params: Conv2dParams,
  visit: (xo: number, yo: number, wo: number) => void,
): void {
  const { cin, cout, k, p } = groupSizes(params);
  const { batch, groups } = params;
  const xGroup = cin * params.height * params.width;
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      visit((n * groups + g) * xGroup, (n * groups + g) * cout * p, g * cout * k);
    }
  }
}

function conv2d(x: FloatArray, w: FloatArray, y: FloatArray, params: Conv2dParams): void {
  const { cin, cout, k, p } = groupSizes(params);
  const col = isPointwise(params) ? null : scratch(k * p);
  y.fill(0);
  forEachSampleGroup(params, (xo, yo, wo) => {
    if (col === null) return gemm(w, wo, x, xo, y, yo, cout, k, p, false, false);
    im2col(x, xo, col, params, cin);
    gemm(w, wo, col, 0, y, yo, cout, k, p, false, false);
  });
}

function fusedConv2d(
  x: FloatArray,
  w: FloatArray,
  y: FloatArray,
  params: Conv2dParams,
  epilogue: ConvEpilogue,
): void {
  conv2d(x, w, y, params);
  applyConvEpilogue(y, params.batch, params.outChannels, params.outH * params.outW, epilogue);
}

/** y[n, o, ·] = act(y[n, o, ·] + bias[o]) over `batch` samples of `channels` planes. */
function applyConvEpilogue(
  y: FloatArray,
  batch: number,
  channels: number,
  plane: number,
  { bias, relu }: ConvEpilogue,
): void {
  let at = 0;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < channels; o++) {
      const b = bias[o]!;
      const end = at + plane;
      if (relu) {
        for (let i = at; i < end; i++) {
          const v = y[i]! + b;
          y[i] = v > 0 ? v : 0;
        }
      } else {
        for (let i = at; i < end; i++) y[i] = y[i]! + b;
      }
      at = end;
    }
  }
}

function conv2dBackpropInput(
  dy: FloatArray,
  w: FloatArray,
  dx: FloatArray,
  params: Conv2dParams,
): void {
  const { cin, cout, k, p } = groupSizes(params);
  const col = isPointwise(params) ? null : scratch(k * p);
  dx.fill(0);
  forEachSampleGroup(params, (xo, dyo, wo) => {
    if (col === null) return gemm(w, wo, dy, dyo, dx, xo, k, cout, p, true, false);
    // The GEMM adds into its result, and col still holds the previous group's columns.
    col.fill(0, 0, k * p);
    gemm(w, wo, dy, dyo, col, 0, k, cout, p, true, false);
    col2im(col, dx, xo, params, cin);
  });
}

function conv2dBackpropFilter(
  x: FloatArray,
  dy: FloatArray,
  dw: FloatArray,
  params: Conv2dParams,
): void {
  const { cin, cout, k, p } = groupSizes(params);
  const col = isPointwise(params) ? null : scratch(k * p);
  // Summing over the batch is free: the GEMM accumulates into dw.
  dw.fill(0);
  forEachSampleGroup(params, (xo, dyo, wo) => {
    if (col === null) return gemm(dy, dyo, x, xo, dw, wo, cout, p, k, false, true);
    im2col(x, xo, col, params, cin);
    gemm(dy, dyo, col, 0, dw, wo, cout, p, k, false, true);
  });
}

const fusedConv2dBackward: ConvKernels["fusedConv2dBackward"] = (
  dy,
  y,
  x,
  w,
  dx,
  dw,
  db,
  p,
  relu,
) => {
  const yShape = [p.batch, p.outChannels, p.outH, p.outW];
  let g = dy;
  if (relu) {
    g = dw instanceof Float64Array ? new Float64Array(dy.length) : new Float32Array(dy.length);
    jsElementwiseKernels.binary("reluGrad", dy, yShape, y, yShape, g, yShape);
  }
  if (dx !== null) conv2dBackpropInput(g, w, dx, p);
  conv2dBackpropFilter(x, g, dw, p);
  jsReduceKernels.reduce("sum", g, yShape, [0, 2, 3], db);
};

export const jsConvKernels: ConvKernels = {
  conv2d,
  fusedConv2d,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  fusedConv2dBackward,
};
