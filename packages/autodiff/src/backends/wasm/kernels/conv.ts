import type { FloatArray } from "../../../dtype.js";
import {
  filterSize,
  jsConvKernels,
  type Conv2dParams,
  type ConvEpilogue,
  type ConvKernels,
} from "../../../kernels/conv.js";
import type { WasmRuntime } from "../runtime/wasmRuntime.js";
import { convArgFields } from "../module.generated.js";
import { productRuntime, runTask, runtimeOn, threadsFor } from "../runtime/threads.js";
import { wasmTuning } from "../tuning.js";
import { reluGradIn } from "./elementwise.js";
import { sumIn } from "./reduce.js";

// conv2d, its two backprops and fusedConv2d's gradients in wasm, float32: operands are copied
// into the arena unless an earlier call left them resident (runtime.input), computed there
// (split over the pool's threads when the work is large enough) and the results copied back
// from output blocks that stay resident for later calls (runtime.output); small convolutions
// and float64 ones go to the js kernels. Outputs are written whole, so nothing is copied in for
// them: where a kernel adds into its result, the result is zeroed in wasm memory first.

/** A field of ConvArgs, the conv tasks' arguments. */
type ConvArgField = (typeof convArgFields)[number];

/** Multiply-adds of one conv2d pass, the same for its forward and both backprops. */
function convWork(p: Conv2dParams): number {
  const k = (p.inChannels / p.groups) * p.kernelH * p.kernelW;
  return p.batch * p.outChannels * p.outH * p.outW * k;
}

/** Columns a chunk of samples should give the conv GEMM: enough to pack the weights rarely. */
const CHUNK_COLUMNS = 2048;
/** The most bytes one thread's column matrix may take. */
const CHUNK_BYTES = 8 << 20;
/**
 * The batch splits into at least this many chunks (when it can), for threads to share: the
 * threads claim them as they come free, so a worker that starts late takes fewer, and finer
 * chunks waste less of a late start. Chosen by measurement: see
 * docs/performance.md#wasm-thresholds-and-kernel-choices.
 */
const MIN_CHUNKS = 16;
/**
 * Writes a conv task's arguments (ConvArgs in assembly/convArgs.ts, in the field order the
 * build wrote to convArgFields) after reserving each thread's scratch: its plan, GEMM packing, a
 * column matrix [K, chunk·P] and a staging matrix [Cout/groups, chunk·P].
 */
function convArgs(
  runtime: WasmRuntime,
  p: Conv2dParams,
  x: number,
  w: number,
  y: number,
  threads: number,
  partials: number,
  direct = false,
): number {
  const cin = p.inChannels / p.groups;
  const cout = p.outChannels / p.groups;
  const k = cin * p.kernelH * p.kernelW;
  const positions = p.outH * p.outW;
  const chunk = convChunk(p);
  const rows = k + cout;
  // The direct kernels use the column matrix's room for their own buffers.
  const columns = Math.max(
    4 * rows * chunk * positions,
    runtime.exports.directScratchBytes(cin, cout, p.kernelH, p.kernelW, p.outH, p.outW),
  );
  const exports = runtime.exports;
  const scratchStride = exports.convPlanBytes() + exports.gemmScratchBytes() + columns;
  const scratch = runtime.alloc(threads * scratchStride);
  const extras: Record<Exclude<ConvArgField, keyof Conv2dParams>, number> = {
    x,
    w,
    y,
    scratch,
    scratchStride,
    partials,
    chunk,
    direct: direct ? 1 : 0,
    nextChunk: 0,
  };
  for (let i = 0; i < convArgFields.length; i++) {
    const field = convArgFields[i]!;
    argValues[i] =
      field in extras ? extras[field as keyof typeof extras] : p[field as keyof Conv2dParams];
  }
  return runtime.args(argValues);
}

/**
 * convArgs' values, reused by every call: an object spread from the geometry each call was, in
 * jitted training steps, most of what survived scavenges into the old generation and so brought
 * on full garbage collections (docs/performance.md#jit-replayed-steps).
 */
const argValues = new Array<number>(convArgFields.length).fill(0);

/** Whether the direct kernels can take a conv: stride 1, no dilation, a kernel wider than 1×1. */
function directFits(p: Conv2dParams): boolean {
  const unit = p.strideH === 1 && p.strideW === 1 && p.dilationH === 1 && p.dilationW === 1;
  return unit && p.kernelH * p.kernelW > 1;
}

/**
 * Samples per conv GEMM: a function of the geometry alone (not of the thread count), so that
 * results are the same on any number of threads.
 */
function convChunk(p: Conv2dParams): number {
  const k = (p.inChannels / p.groups) * p.kernelH * p.kernelW;
  const positions = p.outH * p.outW;
  const wanted = Math.ceil(CHUNK_COLUMNS / positions);
  const fits = Math.floor(CHUNK_BYTES / (4 * k * positions));
  const shared = Math.ceil(p.batch / MIN_CHUNKS);
  return Math.max(1, Math.min(wanted, fits, shared));
}

/** Threads for a conv pass: split by chunk, so never more than the chunks. */
function convThreads(main: WasmRuntime, p: Conv2dParams): number {
  return Math.min(Math.ceil(p.batch / convChunk(p)), threadsFor(main, convWork(p), true));
}

/**
 * conv2d, and fusedConv2d's epilogue (when given) on y in the arena, before the one copy out:
 * the table's entry for both.
 */
function convForward(
  x: FloatArray,
  w: FloatArray,
  y: FloatArray,
  p: Conv2dParams,
  epilogue?: ConvEpilogue,
): void {
  const operands = epilogue === undefined ? [x, w, y] : [x, w, y, epilogue.bias];
  const main = productRuntime(convWork(p), ...operands);
  if (main === null) {
    if (epilogue === undefined) jsConvKernels.conv2d(x, w, y, p);
    else jsConvKernels.fusedConv2d(x, w, y, p, epilogue);
    return;
  }
  const threads = convThreads(main, p);
  const runtime = runtimeOn(main, threads, ...operands);
  runtime.reset();
  const yAt = runtime.output(y);
  const xAt = runtime.input(x);
  const wAt = runtime.input(w);
  forwardIn(runtime, p, xAt, wAt, yAt, threads);
  if (epilogue !== undefined) {
    const biasAt = runtime.input(epilogue.bias);
    const plane = p.outH * p.outW;
    const relu = epilogue.relu ? 1 : 0;
    runtime.exports.biasActivationF32(yAt, p.batch, p.outChannels, plane, biasAt, relu);
  }
  runtime.copyOut(yAt, y);
}

/** y = x ⋆ w on operands already in the arena; y's contents on entry do not matter. */
function forwardIn(
  runtime: WasmRuntime,
  p: Conv2dParams,
  xAt: number,
  wAt: number,
  yAt: number,
  threads: number,
): void {
  const direct = wasmTuning.directForward && directFits(p);
  // The direct kernels write every output once; the GEMM adds into y, block by block.
  if (!direct) runtime.exports.zeroBytes(yAt, 4 * p.batch * p.outChannels * p.outH * p.outW);
  const args = convArgs(runtime, p, xAt, wAt, yAt, threads, 0, direct);
  runTask(runtime, "conv2dTask", args, threads);
}

function conv2dBackpropInput(dy: FloatArray, w: FloatArray, dx: FloatArray, p: Conv2dParams): void {
  const main = productRuntime(convWork(p), dy, w, dx);
  if (main === null) {
    jsConvKernels.conv2dBackpropInput(dy, w, dx, p);
    return;
  }
  const plan = inputGradPlan(main, p);
  const runtime = runtimeOn(main, plan.threads, dy, w, dx);
  runtime.reset();
  const dxAt = runtime.output(dx);
  const dyAt = runtime.input(dy);
  inputGradIn(runtime, plan, dyAt, w as Float32Array, dxAt);
  runtime.copyOut(dxAt, dx);
}

// With stride 1 and no dilation, the input gradient is itself a forward convolution: of dy with
// the filter turned 180° and its channel axes swapped, padded by kernel − 1 − padding (negative
// padding crops), dx[c, y, x] = Σ dy[o, y + padTop − r, x + padLeft − s]·w[o, c, r, s]. So it
// can run on the direct forward kernels instead of a GEMM and col2im's scatter.

/**
 * Whether that pays: with at least 8 input channels per group (the direct kernel's rows) and
 * rows of dx at least 8 wide (its columns); narrower ones keep the GEMM. Chosen by measurement:
 * see docs/performance.md#wasm-thresholds-and-kernel-choices.
 */
function directInputFits(p: Conv2dParams): boolean {
  return p.inChannels / p.groups >= 8 && p.width >= 8;
}

/** How an input gradient runs: as a forward conv of dy (`direct`), or the GEMM and col2im. */
interface InputGradPlan {
  readonly p: Conv2dParams;
  readonly direct: boolean;
  readonly threads: number;
}

function inputGradPlan(main: WasmRuntime, p: Conv2dParams): InputGradPlan {
  const direct = wasmTuning.directForward && directFits(p) && directInputFits(p);
  return { p, direct, threads: convThreads(main, direct ? transposedConv(p) : p) };
}

/** dx = the input gradient for dy already in the arena; w is copied in as the plan needs it. */
function inputGradIn(
  runtime: WasmRuntime,
  { p, direct, threads }: InputGradPlan,
  dyAt: number,
  w: Float32Array,
  dxAt: number,
): void {
  if (direct) {
    const wAt = runtime.copyIn(flippedFilter(w, p));
    forwardIn(runtime, transposedConv(p), dyAt, wAt, dxAt, threads);
    return;
  }
  const wAt = runtime.input(w);
  // col2im adds every column into dx.
  runtime.exports.zeroBytes(dxAt, 4 * p.batch * p.inChannels * p.height * p.width);
  const args = convArgs(runtime, p, dxAt, wAt, dyAt, threads, 0);
  runTask(runtime, "conv2dBackpropInputTask", args, threads);
}

/** The geometry of that forward convolution: dy in, dx out. */
function transposedConv(p: Conv2dParams): Conv2dParams {
  return {
    ...p,
    inChannels: p.outChannels,
    height: p.outH,
    width: p.outW,
    outChannels: p.inChannels,
    padTop: p.kernelH - 1 - p.padTop,
    padLeft: p.kernelW - 1 - p.padLeft,
    outH: p.height,
    outW: p.width,
  };
}

/**
 * w [Cout, Cin/g, kh, kw] as the filter of transposedConv: [Cin, Cout/g, kh, kw], each turned
 * 180°.
 */
function flippedFilter(w: Float32Array, p: Conv2dParams): Float32Array {
  const cin = p.inChannels / p.groups;
  const cout = p.outChannels / p.groups;
  const taps = p.kernelH * p.kernelW;
  const out = new Float32Array(w.length);
  for (let g = 0; g < p.groups; g++) {
    for (let o = 0; o < cout; o++) {
      for (let c = 0; c < cin; c++) {
        const from = ((g * cout + o) * cin + c) * taps;
        const to = ((g * cin + c) * cout + o) * taps;
        for (let t = 0; t < taps; t++) out[to + taps - 1 - t] = w[from + t]!;
      }
    }
  }
  return out;
}

function conv2dBackpropFilter(
  x: FloatArray,
  dy: FloatArray,
  dw: FloatArray,
  p: Conv2dParams,
): void {
  const main = productRuntime(convWork(p), x, dy, dw);
  if (main === null) {
    jsConvKernels.conv2dBackpropFilter(x, dy, dw, p);
    return;
  }
  const threads = convThreads(main, p);
  const runtime = runtimeOn(main, threads, x, dy, dw);
  runtime.reset();
  const dwAt = runtime.output(dw);
  const xAt = runtime.input(x);
  const dyAt = runtime.input(dy);
  filterGradIn(runtime, p, xAt, dyAt, dwAt, threads);
  runtime.copyOut(dwAt, dw);
}

/** dw = the filter gradient for x and dy already in the arena. */
function filterGradIn(
  runtime: WasmRuntime,
  p: Conv2dParams,
  xAt: number,
  dyAt: number,
  dwAt: number,
  threads: number,
): void {
  const size = filterSize(p);
  runtime.exports.zeroBytes(dwAt, 4 * size);
  // Each chunk of samples sums into its own zeroed partial; they are added into dw in order.
  const chunks = Math.ceil(p.batch / convChunk(p));
  const partials = runtime.zeros(chunks * size);
  const direct = directFits(p) && p.outChannels / p.groups <= wasmTuning.directFilterMaxChannels;
  const args = convArgs(runtime, p, xAt, dwAt, dyAt, threads, partials, direct);
  runTask(runtime, "conv2dBackpropFilterTask", args, threads);
  for (let c = 0; c < chunks; c++) {
    runtime.exports.addF32(dwAt, partials + 4 * c * size, size);
  }
}

/**
 * fusedConv2d's gradients in one arena: dy (and y) copied in once, g = dy·[y > 0] formed there
 * and read by the input gradient, the filter gradient and the bias sum, each copied out once.
 * The same kernels as the separate calls, so the same results.
 */
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
  const outputs = dx === null ? [dw, db] : [dx, dw, db];
  const main = productRuntime(convWork(p), dy, y, x, w, ...outputs);
  if (main === null) {
    jsConvKernels.fusedConv2dBackward(dy, y, x, w, dx, dw, db, p, relu);
    return;
  }
  const filterThreads = convThreads(main, p);
  const input = dx === null ? null : inputGradPlan(main, p);
  // One arena holds every operand, so one runtime serves both products.
  const runtime = runtimeOn(
    main,
    Math.max(filterThreads, input?.threads ?? 1),
    dy,
    y,
    x,
    w,
    ...outputs,
  );
  runtime.reset();
  const dxAt = dx === null ? -1 : runtime.output(dx);
  const dwAt = runtime.output(dw);
  const dbAt = runtime.output(db);
  const dyAt = runtime.input(dy);
  const xAt = runtime.input(x);
  let gAt = dyAt;
  if (relu) {
    const yAt = runtime.input(y);
    gAt = runtime.alloc(4 * dy.length);
    reluGradIn(runtime, dyAt, yAt, gAt, dy.length);
  }
  if (input !== null) inputGradIn(runtime, input, gAt, w as Float32Array, dxAt);
  filterGradIn(runtime, p, xAt, gAt, dwAt, filterThreads);
  const yShape = [p.batch, p.outChannels, p.outH, p.outW];
  sumIn(runtime, gAt, yShape, [0, 2, 3], dbAt);
  if (dx !== null) runtime.copyOut(dxAt, dx);
  runtime.copyOut(dwAt, dw);
  runtime.copyOut(dbAt, db);
};

/** The conv kernels of the wasm backend; everything else falls back to js. */
export const wasmConvKernels: ConvKernels = {
  conv2d: convForward,
  fusedConv2d: convForward,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  fusedConv2dBackward,
};
