// What the backend needs from its host, found at run time so one build serves Node and browsers:
// the WebAssembly API (TypeScript's ES libraries do not declare it), shared memory, a way to
// start workers, the core count and the environment variables.

/** An instance of WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** A compiled WebAssembly.Module: opaque, and can be posted to workers. */
export interface WasmModule {
  readonly brand?: "WebAssembly.Module";
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
  validate(bytes: Uint8Array): boolean;
}

/** The WebAssembly API, or undefined where the host has none. */
export const webAssembly: WasmApi | undefined = Reflect.get(globalThis, "WebAssembly");

/** A variable of the process environment (Node), undefined elsewhere. */
export function environment(name: string): string | undefined {
  return typeof process === "undefined" ? undefined : process.env?.[name];
}

/** Logical cores: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers. */
export function coreCount(): number {
  if (hasNodeBuiltins()) return process.getBuiltinModule("node:os").availableParallelism();
  const navigator: { hardwareConcurrency?: number } | undefined = Reflect.get(
    globalThis,
    "navigator",
  );
  return navigator?.hardwareConcurrency ?? 1;
}

/** Whether a SharedArrayBuffer can be made here (browsers need cross-origin isolation). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  return Reflect.get(globalThis, "crossOriginIsolated") !== false;
}

/** Whether Node's built-ins load synchronously here (process.getBuiltinModule, Node ≥ 20.16). */
function hasNodeBuiltins(): boolean {
  return typeof process !== "undefined" && typeof process.getBuiltinModule === "function";
}

/** A started worker. */
export interface HostWorker {
  terminate(): unknown;
}

/**
 * Starts a worker running `source` (a classic script) and hands it `data`: in Node a
 * worker_threads Worker that never keeps the process alive (unref), in a browser a Web Worker
 * from a blob URL. Undefined where the host cannot start workers.
 */
export function startWorker(source: string, data: object): HostWorker | undefined {
  if (hasNodeBuiltins()) {
    const threads = process.getBuiltinModule("node:worker_threads");
    const worker = new threads.Worker(source, { eval: true, workerData: data });
    worker.unref();
    // A worker that fails to start never reports ready, so the pool stays single-threaded;
    // without a listener its error event would be thrown on the main thread.
    worker.on("error", () => {});
    return worker;
  }
  type WebWorker = HostWorker & { postMessage(data: object): void };
  const WebWorker: (new (url: string) => WebWorker) | undefined = Reflect.get(globalThis, "Worker");
  const Blob: (new (parts: string[]) => object) | undefined = Reflect.get(globalThis, "Blob");
  const Url: { createObjectURL(blob: object): string } | undefined = Reflect.get(globalThis, "URL");
  if (WebWorker === undefined || Blob === undefined || Url === undefined) return undefined;
  const worker = new WebWorker(Url.createObjectURL(new Blob([source])));
  worker.postMessage(data);
  return worker;
}
