import asc from "assemblyscript/asc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webAssembly, type WasmModule } from "../src/backends/wasm/runtime/host.js";
import { ThreadPool } from "../src/backends/wasm/runtime/workerPool.js";
import type { WasmRuntime } from "../src/backends/wasm/runtime/wasmRuntime.js";

// The worker pool's protocol, on a module of its own whose tasks only count: a task with fixed
// shares (the pool's matmulTask slot) must run each thread's share exactly once per job, and a
// task whose threads claim work (the conv2dTask slot) must have every item done once, by
// whichever threads came, and no thread may touch the job's memory after run() returns.

const TASKS_SOURCE = `
// args: [0] next item, [1] item count, [2…] one counter per item (claims) or per thread.
export function matmulTask(args: usize, tid: i32, threads: i32): void {
  atomic.add<i32>(args + 8 + <usize>tid * 4, 1);
}
export function conv2dTask(args: usize, tid: i32, threads: i32): void {
  const count = atomic.load<i32>(args, 4);
  for (let i = atomic.add<i32>(args, 1); i < count; i = atomic.add<i32>(args, 1)) {
    // A few microseconds per item, so that a job outlasts a worker's wake-up now and then.
    let sum: f64 = 0;
    for (let j = 0; j < 3000; j++) sum += <f64>j;
    if (sum < 0) unreachable();
    atomic.add<i32>(args + 8 + <usize>i * 4, 1);
  }
}
export function conv2dBackpropInputTask(args: usize, tid: i32, threads: i32): void {}
export function conv2dBackpropFilterTask(args: usize, tid: i32, threads: i32): void {}
`;

async function compileTasks(): Promise<WasmModule> {
  let binary: Uint8Array | undefined;
  const flags = ["tasks.ts", "--enable", "threads", "--sharedMemory", "--importMemory"];
  const memory = ["--initialMemory", "1", "--maximumMemory", "1", "--runtime", "stub"];
  const { error, stderr } = await asc.main([...flags, ...memory, "--outFile", "tasks.wasm"], {
    readFile: async (name) => (name === "tasks.ts" ? TASKS_SOURCE : null),
    writeFile(name, contents) {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    reportDiagnostic() {},
  });
  if (error !== null || binary === undefined) throw new Error(`asc: ${error?.message} ${stderr}`);
  return new webAssembly!.Module(binary);
}

const ARGS = 1024;
let pool: ThreadPool;
let view: Int32Array;

beforeAll(async () => {
  const module = await compileTasks();
  const memory = new webAssembly!.Memory({ initial: 1, maximum: 1, shared: true });
  const instance = new webAssembly!.Instance(module, { env: { memory } });
  view = new Int32Array(memory.buffer);
  const runtime = { module, memory, exports: instance.exports } as unknown as WasmRuntime;
  pool = new ThreadPool(runtime, 2);
});

afterAll(() => pool.close());

/** Sleeps the main thread long enough for an idle worker to stop spinning and sleep too. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe("the worker pool", () => {
  it("starts its worker", () => {
    expect(pool.available()).toBe(2);
  });

  it("runs each thread's fixed share once per job", () => {
    for (let job = 0; job < 300; job++) {
      view.fill(0, ARGS / 4, ARGS / 4 + 4);
      pool.run("matmulTask", ARGS, 2, false);
      expect([view[ARGS / 4 + 2], view[ARGS / 4 + 3]], `job ${job}`).toEqual([1, 1]);
      if (job % 20 === 0) pause(2);
    }
  });

  it("does every claimed item once, and no thread enters a job after it returns", () => {
    const items = 24;
    const at = ARGS / 4;
    for (let job = 0; job < 300; job++) {
      view.fill(0, at, at + 2 + items);
      view[at + 1] = items;
      pool.run("conv2dTask", ARGS, 2, true);
      const done = Array.from(view.subarray(at + 2, at + 2 + items));
      expect(done, `job ${job}`).toEqual(new Array(items).fill(1));
      // Reset the job as if new: a worker that entered it now would find work and do it.
      view.fill(0, at, at + 2 + items);
      view[at + 1] = items;
      // Every few jobs the worker falls asleep first, so that it wakes after the job closed.
      if (job % 10 === 0) pause(2);
      pause(job % 10 === 0 ? 3 : 0.2);
      expect(
        view.subarray(at + 2, at + 2 + items).every((v) => v === 0),
        `after job ${job}`,
      ).toBe(true);
    }
  });
});
