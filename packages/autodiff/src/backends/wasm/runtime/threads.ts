import { argumentError } from "../../../errors.js";
import { coreCount, environment } from "./host.js";
import { ThreadPool } from "./workerPool.js";
import { singleThreadRuntime, wasmRuntime, type TaskName, type WasmRuntime } from "./wasmRuntime.js";

// How many threads a wasm kernel call uses, and the one pool they come from.

/** @internal Thresholds, in multiply-adds; tests lower them to reach every code path. */
export const threadTuning = {
  /**
   * Below this per thread, waking the workers costs more than it saves. Measured on two cores,
   * in alternation in one process: a 128³ matmul (2 M multiply-adds) ran 0.97× as fast on two
   * threads, a 256³ one (17 M) 1.66×, the 3×3 convs of 116–460 M 1.05–1.84×. At 8 M a LeNet-5
   * step ran on one thread; at 4 M its conv2 passes (15 M each) split, and since the conv
   * threads claim chunks of samples as they come free (a late worker no longer holds a job up)
   * the step's median went from 10.24–10.39 to 9.26–9.78 ms, 9.07 to 8.25 with
   * `--initial-old-space-size=64` (at 2 M: 9.37–9.73 and 8.54).
   */
  minThreadWork: 1 << 22,
  /**
   * The same for a job whose threads claim their work (convolutions): a late worker costs it
   * nothing, so it splits from less. LeNet step, alternating blocks, 2 M against 4 M (conv1's
   * 7.5 M passes split too): 9.19 against 9.48 ms, 7.66 against 7.97 with
   * `--initial-old-space-size=64`.
   */
  minClaimWork: 1 << 21,
  /** Whether a job stays on one thread when the pool's lag exceeds what threads would save. */
  lagAware: true,
};

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
  const perThread = claims ? threadTuning.minClaimWork : threadTuning.minThreadWork;
  if (!runtime.shared || threadLimit === 1 || work < 2 * perThread) return 1;
  const threads = Math.min(wasmThreads(), Math.floor(work / perThread));
  if (threads <= 1) return 1;
  const saved = (work / MACS_PER_MS) * (1 - 1 / threads);
  if (threadTuning.lagAware && saved < 2 * pool!.lagMs && ++skipped % PROBE_EVERY !== 0) {
    return 1;
  }
  // Callers ask before copying operands in: the workers wake while the copies run.
  pool!.warm();
  return threads;
}

/**
 * The runtime a call on `threads` threads copies its operands into and runs in: the pool's
 * shared one, or for one thread its twin over ordinary memory (cheaper copies).
 */
export function runtimeOn(main: WasmRuntime, threads: number): WasmRuntime {
  return threads > 1 ? main : singleThreadRuntime()!;
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
