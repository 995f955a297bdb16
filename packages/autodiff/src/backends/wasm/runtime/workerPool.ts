import { TapegradError } from "../../../errors.js";
import { startWorker, type HostWorker } from "./host.js";
import { TASKS, type TaskName, type WasmRuntime } from "./wasmRuntime.js";

// The control block, an Int32Array on its own SharedArrayBuffer. The main thread writes a job
// (task, args, threads, a new JOB number), sets PENDING to the number of workers, opens the job
// and bumps GENERATION; the main thread runs share 0 itself. A worker that wakes enters the job
// (ACTIVE counts the workers inside it), runs its share if its tid < threads and it has not run
// this JOB already, decrements PENDING and leaves.
//
// A job whose threads take their work as it comes free (the conv tasks claim chunks of samples)
// does not need every worker: once the main thread has run out of work it closes the job
// (CLOSED in ACTIVE), so a worker the scheduler has not run yet never enters it, and waits only
// for the workers inside. A job with fixed shares (matmul's blocks of C) waits until PENDING is
// 0, every share done, before it closes. The next job is written only when no worker is inside,
// so a worker always reads the job it entered.
const GENERATION = 0;
const TASK = 1;
const ARGS = 2;
const THREADS = 3;
const PENDING = 4;
const FAILED = 5;
const READY = 6;
const ACTIVE = 7;
const JOB = 8;
/** How many workers ran the current job (entered it before it closed). */
const JOINED = 9;
/** ACTIVE's flag bit: the job is closed to workers that have not entered it. */
const CLOSED = 1 << 30;

/**
 * How long a worker spins before sleeping in Atomics.wait: a futex wake-up is slow next to the
 * gaps between a training step's kernels, so a worker that just finished one usually gets the
 * next while still spinning (docs/performance.md#wasm-thresholds-and-kernel-choices). The main
 * thread also wakes the workers (warm) before it copies a job's operands in, which hides most
 * of the rest.
 */
const SPIN_MS = 0.5;
/** The main thread's spin while it waits for the workers to finish. */
const JOIN_SPINS = 20000;

// A script with no static imports, so that it runs as a Node eval worker (script or module) and
// as a blob-URL Web Worker alike; `init` carries the compiled module, the shared memory and the
// control block.
const WORKER_SOURCE = `"use strict";
function serve(init) {
  const control = new Int32Array(init.control);
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const tasks = init.tasks.map((name) => instance.exports[name]);
  let seen = Atomics.load(control, ${GENERATION});
  let lastJob = -1;
  Atomics.add(control, ${READY}, 1);
  Atomics.notify(control, ${READY});
  for (;;) {
    let since = performance.now();
    for (let spin = 1; Atomics.load(control, ${GENERATION}) === seen; spin++) {
      if ((spin & 255) !== 0 || performance.now() - since < ${SPIN_MS}) continue;
      // Sleeps until a job, or a warm-up notify that starts another spin.
      Atomics.wait(control, ${GENERATION}, seen);
      since = performance.now();
    }
    seen = Atomics.load(control, ${GENERATION});
    if (control[${THREADS}] < 0) return;
    let active = Atomics.load(control, ${ACTIVE});
    while ((active & ${CLOSED}) === 0) {
      const was = Atomics.compareExchange(control, ${ACTIVE}, active, active + 1);
      if (was === active) break;
      active = was;
    }
    // Closed: the main thread did the work itself.
    if ((active & ${CLOSED}) !== 0) continue;
    const job = control[${JOB}];
    if (job !== lastJob) {
      lastJob = job;
      Atomics.add(control, ${JOINED}, 1);
      const threads = control[${THREADS}];
      try {
        if (init.tid < threads) tasks[control[${TASK}]](control[${ARGS}], init.tid, threads);
      } catch (error) {
        Atomics.store(control, ${FAILED}, 1);
      }
      if (Atomics.sub(control, ${PENDING}, 1) === 1) Atomics.notify(control, ${PENDING});
    }
    if (Atomics.sub(control, ${ACTIVE}, 1) === (${CLOSED} | 1)) Atomics.notify(control, ${ACTIVE});
  }
}
if (typeof process === "object" && process.versions && process.versions.node) {
  // import() rather than require: Node runs eval workers as modules under --input-type=module.
  import("node:worker_threads").then((threads) => serve(threads.workerData));
} else {
  self.onmessage = (event) => serve(event.data);
}
`;

/** How long a Node main thread waits for new workers to instantiate the module. */
const START_TIMEOUT_MS = 10_000;

/**
 * Workers 1…size−1 sharing the runtime's memory; the calling thread is thread 0. In Node the
 * first use blocks until every worker is ready; in a browser, whose main thread may not block,
 * kernels run single-threaded until they are.
 */
export class ThreadPool {
  readonly size: number;
  private readonly control: Int32Array;
  private readonly workers: HostWorker[] = [];
  private readonly canBlock: boolean;
  private ready = false;
  /** The main thread's wait for the workers after its share in the last job, in ms. */
  lagMs = 0;

  constructor(
    private readonly runtime: WasmRuntime,
    size: number,
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(64 * 4));
    this.canBlock = canWait(this.control);
    const init = {
      module: runtime.module,
      memory: runtime.memory,
      control: this.control.buffer,
      tasks: TASKS,
    };
    for (let tid = 1; tid < size; tid++) {
      const worker = startWorker(WORKER_SOURCE, { ...init, tid });
      if (worker === undefined) break;
      this.workers.push(worker);
    }
    this.size = this.workers.length + 1;
    if (this.canBlock) this.awaitWorkers(START_TIMEOUT_MS);
  }

  /** How many threads a job may use now: the pool's size once every worker is ready, else 1. */
  available(): number {
    if (!this.ready) this.awaitWorkers(0);
    return this.ready ? this.size : 1;
  }

  /**
   * Runs `task(args, tid, threads)` on threads 0…threads−1 and returns when all are done. With
   * `claims`, the task's threads take their work as it comes free, so the call returns once the
   * calling thread finds none left and the workers that started have finished theirs.
   */
  run(task: TaskName, args: number, threads: number, claims: boolean): void {
    const kernel = this.runtime.exports[task];
    if (threads <= 1 || this.available() === 1) {
      kernel(args, 0, 1);
      return;
    }
    const control = this.control;
    control[TASK] = TASKS.indexOf(task);
    control[ARGS] = args;
    control[THREADS] = Math.min(threads, this.size);
    control[JOB] = (control[JOB]! + 1) | 0;
    Atomics.store(control, FAILED, 0);
    Atomics.store(control, PENDING, this.workers.length);
    Atomics.store(control, JOINED, 0);
    // Open the job (no worker is inside: the last job waited for them all to leave).
    Atomics.and(control, ACTIVE, ~CLOSED);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    const start = performance.now();
    let mainDone = start;
    try {
      kernel(args, 0, control[THREADS]!);
      mainDone = performance.now();
    } finally {
      // The workers use the arena until they finish, so wait for them even after a trap.
      if (!claims) this.waitUntilZero(PENDING);
      Atomics.or(control, ACTIVE, CLOSED);
      this.waitUntilZero(ACTIVE, CLOSED);
    }
    // How long the main thread waited for the workers after its own share: near 0 on an idle
    // machine, up to a scheduler time slice when other processes hold the cores. A claiming job
    // never waits for a worker that did not come, but the whole job then ran on this thread,
    // so that counts as the lag: a worker that keeps missing jobs (a process busy on the other
    // core) makes threadsFor keep jobs on one thread, and the workers stop spinning for them.
    const missed = claims && Atomics.load(control, JOINED) < control[THREADS]! - 1;
    this.lagMs = (missed ? mainDone - start : 0) + performance.now() - mainDone;
    if (Atomics.load(control, FAILED) !== 0) {
      throw new TapegradError(
        "INVALID_STATE",
        `wasm backend: a worker failed while running ${task}`,
      );
    }
  }

  /** Wakes sleeping workers to spin, so that a job dispatched soon finds them running. */
  warm(): void {
    if (this.ready) Atomics.notify(this.control, GENERATION);
  }

  /** Tells every worker to return, which ends it. */
  close(): void {
    if (!this.ready) {
      for (const worker of this.workers) worker.terminate();
      return;
    }
    this.control[THREADS] = -1;
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    this.ready = false;
  }

  /** Spins, then sleeps, until control[index] is 0 apart from the `ignored` bits. */
  private waitUntilZero(index: number, ignored = 0): void {
    const control = this.control;
    for (let spin = 0; ; spin++) {
      const value = Atomics.load(control, index);
      if ((value & ~ignored) === 0) return;
      if (spin >= JOIN_SPINS && this.canBlock) Atomics.wait(control, index, value);
    }
  }

  /** Marks the pool ready once every worker has said so, waiting up to `timeoutMs`. */
  private awaitWorkers(timeoutMs: number): void {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const count = Atomics.load(this.control, READY);
      if (count === this.workers.length) {
        this.ready = true;
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0 || !this.canBlock) return;
      Atomics.wait(this.control, READY, count, left);
    }
  }
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function canWait(control: Int32Array): boolean {
  try {
    Atomics.wait(control, 63, 1, 0);
    return true;
  } catch {
    return false;
  }
}
