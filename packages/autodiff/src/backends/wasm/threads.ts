import { argumentError } from "../../errors.js";
import { coreCount, environment } from "./host.js";
import { ThreadPool } from "./pool.js";
import { singleThreadRuntime, wasmRuntime, type TaskName, type WasmRuntime } from "./runtime.js";

// How many threads a wasm kernel call uses, and the one pool they come from.

/** @internal Thresholds, in multiply-adds; tests lower them to reach every code path. */
export const threadTuning = {
  /**
   * Below this per thread, waking the workers costs more than it saves. Measured on two cores,
   * one thread against two in alternation in one process: LeNet-5's kernels (3–10 M
   * multiply-adds) ran 0.88–1.21× as fast on two threads and its whole training step slower
   * (median 19 ms against 14–17), as did a 128³ matmul (2 M, 0.97×); a 256³ matmul (17 M)
   * ran 1.66× faster, the 3×3 convs of 116–460 M 1.05–1.84×.
   */
  minThreadWork: 1 << 23,
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
 * Threads for a job of `work` multiply-adds: as many as have minThreadWork each, unless the
 * time they save is less than twice the pool's last lag (the wait for workers that the
 * scheduler has not run yet: large only when other processes hold the cores).
 */
export function threadsFor(runtime: WasmRuntime, work: number): number {
  const perThread = threadTuning.minThreadWork;
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
  else poolFor(runtime).run(task, args, threads);
}
