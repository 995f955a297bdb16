import { runInNewContext } from "node:vm";

/**
 * The timer every cell of the bench shares: adaptive repetitions around a median, and the cap
 * that times a very slow cell on a smaller batch and scales it up.
 */

export interface TimingOptions {
  /** Untimed calls first (JIT, kernel compilation, buffer allocation): at most this many. */
  readonly warmup: number;
  /** Stop warming up once the untimed calls have taken this long in all. */
  readonly warmupBudgetMs: number;
  /** At least this many timed calls, however slow. */
  readonly minRuns: number;
  /** At most this many timed calls, however fast. */
  readonly maxRuns: number;
  /** Stop once the timed calls have taken this long in all (and `minRuns` are done). */
  readonly budgetMs: number;
}

export interface Timing {
  readonly medianMs: number;
  readonly runs: number;
}

/**
 * Adaptive repetitions: warm-up calls until 1 s or 40 calls (at least 1), then timed calls
 * until both 3 calls and 0.7 s are done, at most 15. Fast cells thus get up to 40 warm-ups and
 * 15 runs, slow ones 1 and 3, and the whole bench (6 peers × 11 workloads) stays within a few
 * minutes. The warm-up is what makes a row's cells independent of their order: V8 keeps
 * optimising the code a call runs through for a while. With 2 warm-ups the first peer of the
 * LeNet row timed 20 ms against 13–14 ms for the next; with 10 (0.3 s) still 10.0–10.4 ms
 * against 9.6–10.0 for the same single-threaded kernels one cell later; with 40 (1 s)
 * 9.57–9.73 against 9.68–10.1.
 */
export const defaultTiming: TimingOptions = {
  warmup: 40,
  warmupBudgetMs: 1000,
  minRuns: 3,
  maxRuns: 15,
  budgetMs: 700,
};

/**
 * V8's full collection, where index.ts exposed it (--expose-gc; a new context then has `gc`).
 * Each cell starts with one, so that none pays for the garbage of the cells before it: in one
 * run the LeNet step's first cell, after the 1024³ matmul row, timed 18.9 ms against 14.0 ms
 * with the LeNet row alone.
 */
const fullCollection: (() => void) | undefined = (() => {
  try {
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

function collectGarbage(): void {
  fullCollection?.();
}

/** The median of `values` (sorted in place). */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/**
 * The median wall time of `run` over an adaptive number of calls: after the untimed warm-up
 * calls, call it until both `minRuns` calls and `budgetMs` milliseconds are done, or `maxRuns`
 * calls. Slow cells thus get a few runs and fast ones many.
 */
export function timeAdaptive(run: () => void, options: TimingOptions = defaultTiming): Timing {
  collectGarbage();
  const warmupStart = performance.now();
  for (let i = 0; i < options.warmup; i++) {
    if (i > 0 && performance.now() - warmupStart >= options.warmupBudgetMs) break;
    run();
  }
  const times: number[] = [];
  let total = 0;
  while (
    times.length < options.maxRuns &&
    (times.length < options.minRuns || total < options.budgetMs)
  ) {
    const start = performance.now();
    run();
    const elapsed = performance.now() - start;
    times.push(elapsed);
    total += elapsed;
  }
  return { medianMs: median(times), runs: times.length };
}

/** Wall time of one call. */
export function timeOnce(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/**
 * The longest a single call may be expected to take before a cell whose cost is linear in the
 * batch is timed on a smaller batch and scaled up. It applies to every peer alike; in practice it
 * catches tfjs's cpu weight-gradient kernel (Conv2DBackpropFilter reads every element through
 * `TensorBuffer.get`, ~100 s per call for the 3×3 workload) and jax-js's convolution backward
 * passes. `BENCH_FULL=1` times every cell at full size however long it takes.
 */
export const callCapMs = process.env["BENCH_FULL"] ? Infinity : 2000;

/** A timed cell: `medianMs` is for the full batch, measured at `batch` and scaled when smaller. */
export interface CellTiming extends Timing {
  readonly batch: number;
}

/** One peer's implementation of one workload at some batch size, ready to call. */
export interface Prepared {
  /** One timed call; every result is forced (read back) inside it. */
  readonly run: () => void;
  readonly dispose: () => void;
}

/**
 * Times `prepare(n).run` at n = `batch`. When `scalable` (cost linear in the batch) and a probe
 * at n = 1 predicts a call longer than `capMs`, it is timed at the largest n that fits (at least
 * 1) and the median scaled by batch / n. Returns the timing and the prepared call it timed (the
 * caller reads results from it and disposes it).
 */
export function timeCell<P extends Prepared>(
  prepare: (n: number) => P,
  batch: number,
  scalable: boolean,
  capMs: number = callCapMs,
): { timing: CellTiming; prepared: P } {
  let n = batch;
  let warm: P | undefined;
  if (scalable && batch > 1 && Number.isFinite(capMs)) {
    const probe = prepare(1);
    try {
      let probeMs = timeOnce(probe.run);
      // The first call may still be cold (JIT, kernel compilation); a second is cheap when the
      // first was.
      if (probeMs < 300) probeMs = Math.min(probeMs, timeOnce(probe.run));
      const estimate = probeMs * batch;
      if (estimate > capMs) n = Math.max(1, Math.floor((batch * capMs) / estimate));
    } catch (error) {
      probe.dispose();
      throw error;
    }
    if (n === 1) warm = probe;
    else probe.dispose();
  }
  const prepared = warm ?? prepare(n);
  try {
    // At n = 1 after a probe, the probe calls were the warm-up.
    const t = timeAdaptive(prepared.run, warm ? { ...defaultTiming, warmup: 0 } : defaultTiming);
    return { timing: { medianMs: (t.medianMs * batch) / n, runs: t.runs, batch: n }, prepared };
  } catch (error) {
    prepared.dispose();
    throw error;
  }
}
