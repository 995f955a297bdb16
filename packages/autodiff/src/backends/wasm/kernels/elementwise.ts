import type { TypedArray } from "../../../dtype.js";
import {
  jsElementwiseKernels,
  type BinaryKind,
  type ElementwiseKernels,
  type UnaryKind,
} from "../../../kernels/elementwise.js";
import { broadcastStrides } from "../../../kernels/strided.js";
import { runTask, runtimeOn, threadsFor } from "../runtime/threads.js";
import { singleThreadRuntime, wasmRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";
import {
  BINARY_ADD,
  BINARY_DIV,
  BINARY_GELU_GRAD,
  BINARY_GELU_TANH_GRAD,
  BINARY_MUL,
  BINARY_RELU_GRAD,
  BINARY_SUB,
  UNARY_ABS,
  UNARY_ERF,
  UNARY_EXP,
  UNARY_GELU,
  UNARY_GELU_TANH,
  UNARY_NEG,
  UNARY_RELU,
  UNARY_SIGMOID,
  UNARY_SQRT,
  UNARY_SQUARE,
  UNARY_STEP,
  UNARY_TANH,
} from "./elementwiseCodes.js";

// Float32 unary and binary kernels for the kinds whose wasm results equal js exactly (see
// assembly/elementwise.ts). They pay for copying operands in and the result out, which large
// arrays repay (docs/performance.md#wasm-thresholds-and-kernel-choices); other kinds, dtypes
// and small arrays stay in js.

const UNARY: Partial<Record<UnaryKind, number>> = {
  relu: UNARY_RELU,
  step: UNARY_STEP,
  neg: UNARY_NEG,
  abs: UNARY_ABS,
  square: UNARY_SQUARE,
  sqrt: UNARY_SQRT,
  exp: UNARY_EXP,
  tanh: UNARY_TANH,
  sigmoid: UNARY_SIGMOID,
  erf: UNARY_ERF,
  gelu: UNARY_GELU,
  geluTanh: UNARY_GELU_TANH,
};
const BINARY: Partial<Record<BinaryKind, number>> = {
  add: BINARY_ADD,
  sub: BINARY_SUB,
  mul: BINARY_MUL,
  div: BINARY_DIV,
  reluGrad: BINARY_RELU_GRAD,
};

/**
 * What one element of a unary kind counts as in threadsFor's work: the transcendental kinds
 * split over two threads from 16,384 elements
 * (docs/performance.md#wasm-thresholds-and-kernel-choices); the others are bound by memory and
 * stay on one thread.
 */
function elementWork(code: number): number {
  return code >= UNARY_EXP ? 512 : 1;
}

function unary(kind: UnaryKind, x: TypedArray, out: TypedArray, alpha: number): void {
  const code = UNARY[kind];
  const main = wasmRuntime();
  if (
    code === undefined ||
    main === null ||
    !(x instanceof Float32Array) ||
    !(out instanceof Float32Array) ||
    x.length < wasmTuning.minElementwiseLength
  ) {
    jsElementwiseKernels.unary(kind, x, out, alpha);
    return;
  }
  const threads = threadsFor(main, x.length * elementWork(code));
  const runtime = runtimeOn(main, threads, x, out);
  runtime.reset();
  const at = runtime.copyIn(x);
  runTask(runtime, "unaryTask", runtime.args([code, at, x.length]), threads);
  runtime.copyOut(at, out);
}

/** The rows of a broadcast binary op: each operand's start per row, and its step along a row. */
interface Rows {
  readonly n: number;
  readonly count: number;
  readonly aStep: number;
  readonly bStep: number;
  /** (a offset, b offset) per row. */
  readonly offsets: Int32Array;
}

/**
 * Merges adjacent output axes that both operands walk as one (size-1 axes dropped), so that a
 * bias add [N, C, H, W] + [C, 1, 1] becomes N·C rows of H·W, then lists every row's offsets.
 */
function rows(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]) {
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const dims: number[] = [];
  const strideA: number[] = [];
  const strideB: number[] = [];
  for (let axis = 0; axis < outShape.length; axis++) {
    const size = outShape[axis]!;
    if (size === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strideA[last] === sa[axis]! * size && strideB[last] === sb[axis]! * size) {
      dims[last]! *= size;
      strideA[last] = sa[axis]!;
      strideB[last] = sb[axis]!;
    } else {
      dims.push(size);
      strideA.push(sa[axis]!);
      strideB.push(sb[axis]!);
    }
  }
  const rank = dims.length;
  const n = rank === 0 ? 1 : dims[rank - 1]!;
  let count = 1;
  for (let i = 0; i < rank - 1; i++) count *= dims[i]!;
  const offsets = new Int32Array(2 * count);
  const index = new Array<number>(Math.max(0, rank - 1)).fill(0);
  let ia = 0;
  let ib = 0;
  for (let row = 0; row < count; row++) {
    offsets[2 * row] = ia;
    offsets[2 * row + 1] = ib;
    // Odometer over the outer axes, last fastest.
    for (let axis = rank - 2; axis >= 0; axis--) {
      ia += strideA[axis]!;
      ib += strideB[axis]!;
      if (++index[axis]! < dims[axis]!) break;
      ia -= strideA[axis]! * dims[axis]!;
      ib -= strideB[axis]! * dims[axis]!;
      index[axis] = 0;
    }
  }
  const aStep = rank === 0 ? 0 : strideA[rank - 1]!;
  const bStep = rank === 0 ? 0 : strideB[rank - 1]!;
  return { n, count, aStep, bStep, offsets } satisfies Rows;
}

/** GELU's gradient kinds, which geluGradTask computes over operands of one shape. */
const GELU_GRAD: Partial<Record<BinaryKind, number>> = {
  geluGrad: BINARY_GELU_GRAD,
  geluTanhGrad: BINARY_GELU_TANH_GRAD,
};

/** out = dy·gelu′(x) for float32 dy and x of out's length, split over the pool like a unary. */
function geluGrad(code: number, dy: Float32Array, x: Float32Array, out: Float32Array): void {
  const main = wasmRuntime()!;
  const threads = threadsFor(main, out.length * elementWork(UNARY_EXP));
  const runtime = runtimeOn(main, threads, dy, x, out);
  runtime.reset();
  const dyAt = runtime.copyIn(dy);
  const xAt = runtime.input(x);
  runTask(runtime, "geluGradTask", runtime.args([code, dyAt, xAt, out.length]), threads);
  runtime.copyOut(dyAt, out);
}

function binary(
  kind: BinaryKind,
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  const gelu = GELU_GRAD[kind];
  if (
    gelu !== undefined &&
    wasmRuntime() !== null &&
    a instanceof Float32Array &&
    b instanceof Float32Array &&
    out instanceof Float32Array &&
    a.length === out.length &&
    b.length === out.length &&
    out.length >= wasmTuning.minElementwiseLength
  ) {
    geluGrad(gelu, a, b, out);
    return;
  }
  const code = BINARY[kind];
  const runtime = singleThreadRuntime(a, b, out);
  if (
    code === undefined ||
    runtime === null ||
    !(a instanceof Float32Array) ||
    !(b instanceof Float32Array) ||
    !(out instanceof Float32Array) ||
    out.length < wasmTuning.minElementwiseLength
  ) {
    jsElementwiseKernels.binary(kind, a, aShape, b, bShape, out, outShape);
    return;
  }
  const plan = rows(aShape, bShape, outShape);
  runtime.reset();
  const aAt = runtime.input(a);
  const bAt = runtime.input(b);
  const offsetsAt = runtime.copyIn(plan.offsets);
  const outAt = runtime.output(out);
  runtime.exports.binaryRowsF32(
    code,
    aAt,
    plan.aStep,
    bAt,
    plan.bStep,
    outAt,
    plan.count,
    plan.n,
    offsetsAt,
  );
  runtime.copyOut(outAt, out);
}

/** @internal g = dy·[y > 0] over `count` float32s already in the arena (reluGrad's kernel). */
export function reluGradIn(
  runtime: WasmRuntime,
  dyAt: number,
  yAt: number,
  gAt: number,
  count: number,
): void {
  // One row of `count`, both operands stepping by 1.
  const offsetsAt = runtime.args([0, 0]);
  runtime.exports.binaryRowsF32(BINARY_RELU_GRAD, dyAt, 1, yAt, 1, gAt, 1, count, offsetsAt);
}

/** The elementwise kernels the wasm backend replaces (where is js's). */
export const wasmElementwiseKernels: Omit<ElementwiseKernels, "where"> = { unary, binary };
