import type { FloatArray, TypedArray } from "../../../dtype.js";
import { argumentError } from "../../../errors.js";
import { coreCount, environment } from "./host.js";
import { wasmTuning } from "../tuning.js";
import { ThreadPool } from "./workerPool.js";
import {
  singleThreadRuntime,
  wasmRuntime,
  type TaskName,
  type WasmRuntime,
} from "./wasmRuntime.js";

// How many threads a wasm kernel call uses, and the one pool they come from.

let threadLimit = threadsFromEnvironment();
let pool: ThreadPool | undefined;

function threadsFromEnvironment(): number {
  const text = environment("TAPEGRAD_THREADS");
  const value = text === undefined ? NaN : Number(text);
  return Number.isInteger(value) && value >= 1 ? value : coreCount();
}

/** Sets how many threads the wasm kernels may use (default: every core, or TAPEGRAD_THREADS). */
export function setWasmThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) {
    throw argumentError("setWasmThreads", `threads must be a positive integer, got ${threads}`);
  }
  threadLimit = threads;
}

/** The threads the wasm kernels use now: the limit, or 1 where memory cannot be shared. */
export function wasmThreads(): number {
  const runtime = wasmRuntime();
  if (runtime === null || !runtime.shared || threadLimit === 1) return 1;
  return Math.min(threadLimit, poolFor(runtime).available());
}

function poolFor(runtime: WasmRuntime): ThreadPool {
  if (pool === undefined || pool.size < threadLimit) {
    pool?.close();
    pool = new ThreadPool(runtime, threadLimit);
  }
  return pool;
}

/** A conservative single-thread rate of the wasm kernels, in multiply-adds per millisecond. */
const MACS_PER_MS = 5e6;
/** Every this many jobs that lag alone kept on one thread, one splits anyway to re-measure. */
const PROBE_EVERY = 8;
let skipped = 0;

/**
 * Threads for a job of `work` multiply-adds: as many as have minThreadWork (minClaimWork where
 * the threads claim their work) each, unless the time they save is less than twice the pool's
 * last lag (the wait for workers that the scheduler has not run yet: large only when other
 * processes hold the cores).
 */
export function threadsFor(runtime: WasmRuntime, work: number, claims = false): number {
  const perThread = claims ? wasmTuning.minClaimWork : wasmTuning.minThreadWork;
  if (!runtime.shared || threadLimit === 1 || work < 2 * perThread) return 1;
  const threads = Math.min(wasmThreads(), Math.floor(work / perThread));
  if (threads <= 1) return 1;
  const saved = (work / MACS_PER_MS) * (1 - 1 / threads);
  if (wasmTuning.lagAware && saved < 2 * pool!.lagMs && ++skipped % PROBE_EVERY !== 0) {
    return 1;
  }
  // Callers ask before copying operands in: the workers wake while the copies run.
  pool!.warm();
  return threads;
}

/**
 * The main runtime for a product of `work` multiply-adds (matmul, conv) when every operand is
 * float32 and the work is worth the copies, else null (the call stays in js). A call asks it
 * for threads (threadsFor), then runs in `runtimeOn(main, threads)`. Callers that run float64
 * in wasm pass no arrays.
 */
export function productRuntime(work: number, ...arrays: FloatArray[]): WasmRuntime | null {
  if (work < wasmTuning.minProductWork) return null;
  for (const array of arrays) if (!(array instanceof Float32Array)) return null;
  return wasmRuntime();
}

/**
 * The runtime a call on `threads` threads copies its operands into and runs in: the pool's
 * shared one, or for one thread its twin over ordinary memory (cheaper copies).
 */
export function runtimeOn(
  main: WasmRuntime,
  threads: number,
  ...arrays: (TypedArray | null)[]
): WasmRuntime {
  return threads > 1 ? main : singleThreadRuntime(...arrays)!;
}

/** Runs `task` on `threads` threads (the calling one included). */
export function runTask(runtime: WasmRuntime, task: TaskName, args: number, threads: number) {
  if (threads === 1) runtime.exports[task](args, 0, 1);
  else poolFor(runtime).run(task, args, threads, CLAIMING_TASKS.has(task));
}

/** Tasks whose threads claim chunks of work as they come free (assembly/conv.ts). */
const CLAIMING_TASKS: ReadonlySet<TaskName> = new Set([
  "conv2dTask",
  "conv2dBackpropInputTask",
  "conv2dBackpropFilterTask",
]);
