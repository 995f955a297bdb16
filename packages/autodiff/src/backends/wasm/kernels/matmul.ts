import type { FloatArray } from "../../../dtype.js";
import { jsMatmulKernels, type MatmulKernels } from "../../../kernels/matmul.js";
import { productRuntime, runTask, runtimeOn, threadsFor } from "../runtime/threads.js";

// matmul in wasm, float32 and float64: A and B are copied into the arena unless an earlier call
// left them resident (runtime.input), multiplied there (split over the pool's threads when the
// work is large enough), and C copied back from an output block that stays resident for later
// calls (runtime.output). Small products go to the js kernel.

function matmul(
  a: FloatArray,
  aOffsets: readonly number[],
  b: FloatArray,
  bOffsets: readonly number[],
  c: FloatArray,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  let batches = aOffsets.length;
  // float64 runs in wasm too (f64x2); mixed operands never reach a kernel.
  const f64 = a instanceof Float64Array && b instanceof Float64Array && c instanceof Float64Array;
  const main = f64
    ? productRuntime(batches * m * n * k)
    : productRuntime(batches * m * n * k, a, b, c);
  if (main === null) {
    jsMatmulKernels.matmul(a, aOffsets, b, bOffsets, c, m, k, n, transA, transB);
    return;
  }
  const bytes = f64 ? 8 : 4;
  const threads = threadsFor(main, batches * m * n * k);
  const runtime = runtimeOn(main, threads, a, b, c);
  runtime.reset();
  const aAt = runtime.input(a);
  const bAt = runtime.input(b);
  // The GEMM adds into C.
  const cAt = runtime.output(c);
  runtime.exports.zeroBytes(cAt, bytes * batches * m * n);
  // [batch, m, k]·[k, n] with one shared B is one (batch·m)×k·k×n product, as in js.
  if (batches > 1 && !transA && foldable(aOffsets, bOffsets, m * k)) {
    m *= batches;
    batches = 1;
  }
  const addresses = runtime.alloc(8 * batches);
  for (let i = 0; i < batches; i++) {
    runtime.i32[addresses / 4 + i] = aAt + bytes * aOffsets[i]!;
    runtime.i32[addresses / 4 + batches + i] = bAt + bytes * bOffsets[i]!;
  }
  const scratchStride = f64
    ? runtime.exports.gemmF64ScratchBytes()
    : runtime.exports.gemmScratchBytes();
  const scratch = runtime.alloc(threads * scratchStride);
  const args = runtime.args([
    m,
    k,
    n,
    transA ? 1 : k,
    transA ? m : 1,
    transB ? 1 : n,
    transB ? k : 1,
    batches,
    addresses,
    addresses + 4 * batches,
    cAt,
    scratch,
    scratchStride,
    f64 ? 1 : 0,
  ]);
  runTask(runtime, "matmulTask", args, threads);
  runtime.copyOut(cAt, c);
}

/** True when every batch shares B and the A matrices follow each other with no gaps. */
function foldable(aOffsets: readonly number[], bOffsets: readonly number[], aSize: number) {
  const a0 = aOffsets[0]!;
  const b0 = bOffsets[0]!;
  for (let i = 1; i < aOffsets.length; i++) {
    if (bOffsets[i] !== b0 || aOffsets[i] !== a0 + i * aSize) return false;
  }
  return true;
}

/** The matmul kernel of the wasm backend; everything else falls back to js. */
export const wasmMatmulKernels: MatmulKernels = { matmul };
