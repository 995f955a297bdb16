import type * as Tfjs from "@tensorflow/tfjs";

/**
 * Peer-library helpers: loading TensorFlow.js on its pure-JS `cpu` backend, running its ops so
 * that the time measured includes the work (tfjs kernels may be lazy; `dataSync()` forces every
 * result) and no tensor leaks between runs, and an adaptive median timer shared by both sides.
 */

export type Tf = typeof Tfjs;
export type TfTensor = Tfjs.Tensor;

let loaded: Promise<Tf> | undefined;

/**
 * Imports `@tensorflow/tfjs` (the full package, which registers the gradients the core alone
 * lacks) and switches it to the `cpu` backend. Imported lazily, so the other sections of the
 * bench do not pay for it. The `PROD` flag silences tfjs's own logging only, in particular the
 * "install tfjs-node" banner the cpu backend prints in Node on first use.
 */
export function loadTfjs(): Promise<Tf> {
  loaded ??= (async () => {
    const tf: Tf = await import("@tensorflow/tfjs");
    tf.env().set("PROD", true);
    if (!(await tf.setBackend("cpu"))) throw new Error("tfjs: the cpu backend failed to start");
    await tf.ready();
    return tf;
  })();
  return loaded;
}

/** `version` strings of the tfjs packages that were loaded, for the report header. */
export function tfjsVersion(tf: Tf): string {
  return `tfjs ${tf.version.tfjs} (backend ${tf.getBackend()})`;
}

/**
 * Runs `fn` inside `tf.tidy`, forces every returned tensor with `dataSync()` (so the timed
 * region contains the whole computation), and disposes the results unless `keep` is set.
 * With `keep`, the caller owns (and must dispose) the returned tensors.
 */
export function runTf(tf: Tf, fn: () => TfTensor | TfTensor[], keep = false): TfTensor[] {
  const out = tf.tidy(fn);
  const tensors = Array.isArray(out) ? out : [out];
  for (const t of tensors) t.dataSync();
  if (!keep) tf.dispose(tensors);
  return tensors;
}

/** Copies a tfjs tensor's values out (then disposes it). */
export function takeData(tensor: TfTensor): Float32Array {
  const data = tensor.dataSync() as Float32Array;
  tensor.dispose();
  return data;
}

export interface TimingOptions {
  /** Untimed calls first (JIT, buffer allocation): at most this many. */
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
 * The median wall time of `run` over an adaptive number of calls: after the untimed warm-up
 * calls, call it until both `minRuns` calls and `budgetMs` milliseconds are done, or `maxRuns`
 * calls. Slow cells thus get a few runs and fast ones many, and the whole bench stays short.
 */
export function timeAdaptive(run: () => void, options: TimingOptions): Timing {
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
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { medianMs, runs: times.length };
}
