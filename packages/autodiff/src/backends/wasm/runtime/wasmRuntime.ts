import { TapegradError } from "../../../errors.js";
import { onBufferReuse, type DType, type TypedArray } from "../../../dtype.js";
import { canShareMemory, webAssembly, type WasmMemory, type WasmModule } from "./host.js";
import {
  localModule,
  maximumPages,
  relaxedLocalModule,
  relaxedModule,
  sharedModule,
  type KernelExports,
} from "../module.generated.js";
import { RING_BYTES, ResidentRing } from "./residency.js";

/** The kernels that split their work over threads, in the order workers index them. */
export const TASKS = [
  "matmulTask",
  "conv2dTask",
  "conv2dBackpropInputTask",
  "conv2dBackpropFilterTask",
  "unaryTask",
  "geluGradTask",
] as const;

export type TaskName = (typeof TASKS)[number];

const PAGE = 65536;
/** Arena blocks start on cache lines, so SIMD loads of one thread's data never straddle two. */
const ALIGN = 64;

const ARRAYS = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;
const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4 };

/**
 * Which build of the kernels runs: `relaxed` (shared memory, fused multiply-add through relaxed
 * SIMD), `shared` (shared memory, baseline SIMD), `local` (ordinary memory, one thread) or
 * `relaxedLocal` (ordinary memory, relaxed SIMD: the single-thread twin of `relaxed`).
 */
export type ModuleVariant = "relaxed" | "shared" | "local" | "relaxedLocal";

const MODULES: Record<ModuleVariant, string> = {
  relaxed: relaxedModule,
  shared: sharedModule,
  local: localModule,
  relaxedLocal: relaxedLocalModule,
};

/**
 * The compiled module, its memory, a ring of resident kernel outputs (residency.ts), buffers that
 * jit's memory plans keep in the memory itself, and an arena after them: every kernel call resets
 * the arena, copies in the typed arrays that are neither resident nor views of the memory, runs,
 * and copies its results out (or writes them in place, into a view of the memory).
 */
export class WasmRuntime {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly exports: KernelExports;
  /** The build in use. */
  readonly variant: ModuleVariant;
  /** True when the memory is shared, so pool workers can run on it too. */
  readonly shared: boolean;
  /** Where each call's arena starts: after the ring and the planned buffers. */
  private base: number;
  private top: number;
  /** The memory's buffers, the present one and those it had before growing (the same bytes). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** Planned buffers' blocks given back (their views collected), by size in bytes. */
  private readonly freeBlocks = new Map<number, number[]>();
  private readonly collected = new FinalizationRegistry<{ at: number; bytes: number }>(
    ({ at, bytes }) => {
      const list = this.freeBlocks.get(bytes);
      if (list === undefined) this.freeBlocks.set(bytes, [at]);
      else list.push(at);
    },
  );
  private readonly ring: ResidentRing;
  private f32View!: Float32Array;
  private f64View!: Float64Array;
  private i32View!: Int32Array;

  constructor(variant: ModuleVariant) {
    const api = webAssembly!;
    const shared = variant === "relaxed" || variant === "shared";
    this.variant = variant;
    this.shared = shared;
    this.module = new api.Module(decodeBase64(MODULES[variant]));
    this.memory = new api.Memory({ initial: 16, maximum: maximumPages, shared });
    const instance = new api.Instance(this.module, { env: { memory: this.memory } });
    this.exports = instance.exports as KernelExports;
    const ringStart = roundUp(Math.max(this.exports.heapBase(), 1024), ALIGN);
    this.ring = new ResidentRing(ringStart);
    onBufferReuse((memory) => this.ring.forget(memory));
    this.base = ringStart + RING_BYTES;
    this.top = this.base;
    this.viewMemory();
    // The ring's pages, reserved now (the operating system maps them only when written).
    this.alloc(0);
  }

  /** The whole memory as float32; a new view after the memory grows. */
  get f32(): Float32Array {
    return this.f32View;
  }

  get i32(): Int32Array {
    return this.i32View;
  }

  /** Frees every block: called at the start of each kernel call (kernels never re-enter). */
  reset(): void {
    this.top = this.base;
    this.ring.beginCall();
  }

  /** Whether `data` is a view of this memory (a planned buffer): kernels address it in place. */
  owns(data: TypedArray): boolean {
    return this.buffers.has(data.buffer);
  }

  /**
   * The address of `data` for a kernel that only reads it: its own where it is a view of the
   * memory, where it is resident from an earlier call's output, else a fresh copy (copyIn). The
   * kernel must not write there.
   */
  input(data: TypedArray): number {
    if (this.owns(data)) return data.byteOffset;
    const at = this.ring.find(data);
    return at >= 0 ? at : this.copyIn(data);
  }

  /**
   * Where a kernel writes `target`'s elements, for copyOut to deliver: `target` itself where it
   * is a view of the memory, else a block in the ring, so that `target` stays resident for later
   * calls, or in the arena when the ring cannot take it.
   */
  output(target: TypedArray): number {
    if (this.owns(target)) return target.byteOffset;
    const at = this.ring.allocate(target.byteLength);
    return at >= 0 ? at : this.alloc(target.byteLength);
  }

  /**
   * A buffer of `size` elements of `dtype` in this memory, for jit's memory plan: kernels read and
   * write it in place, without copies. Only a shared memory gives them (an ordinary one detaches
   * its views when it grows); its block returns to a free list once the view is collected. Call
   * it between kernel calls: the arena moves up past the new block.
   */
  planned(dtype: DType, size: number): TypedArray | undefined {
    if (!this.shared) return undefined;
    const bytes = roundUp(size * BYTES_PER_ELEMENT[dtype], ALIGN);
    let at = this.freeBlocks.get(bytes)?.pop();
    if (at === undefined) {
      at = this.base;
      this.base = at + bytes;
      this.top = Math.max(this.top, this.base);
      this.reserve(this.base);
    }
    const view = new ARRAYS[dtype](this.memory.buffer as ArrayBuffer, at, size);
    this.collected.register(view, { at, bytes });
    return view;
  }

  /** Reserves `bytes` (uninitialised) and returns their address, growing the memory if needed. */
  alloc(bytes: number): number {
    const at = roundUp(this.top, ALIGN);
    this.top = at + bytes;
    this.reserve(this.top);
    return at;
  }

  /** Grows the memory, if needed, to hold `end` bytes. */
  private reserve(end: number): void {
    const size = this.memory.buffer.byteLength;
    if (end <= size) return;
    // Grow by half again at least, so a sequence of growing calls reallocates rarely.
    const wanted = Math.max(end, Math.floor(size * 1.5));
    const pages = Math.min(maximumPages, Math.ceil(wanted / PAGE)) - size / PAGE;
    if (end > (size / PAGE + pages) * PAGE) {
      throw new TapegradError(
        "OUT_OF_MEMORY",
        `wasm backend: kernels need ${end} bytes of memory, more than the 2 GiB limit`,
      );
    }
    this.memory.grow(pages);
    this.viewMemory();
  }

  /** Views of the whole memory, made again after it grows (its buffer is then a new one). */
  private viewMemory(): void {
    this.buffers.add(this.memory.buffer);
    this.f32View = new Float32Array(this.memory.buffer);
    this.f64View = new Float64Array(this.memory.buffer);
    this.i32View = new Int32Array(this.memory.buffer);
  }

  /**
   * Copies `data` into a new block of at least `bytes` (default: data's own size) and returns
   * its address; bytes past the data are uninitialised.
   */
  copyIn(data: TypedArray, bytes = data.byteLength): number {
    const at = this.alloc(Math.max(bytes, data.byteLength));
    if (this.owns(data)) {
      const from = data.byteOffset / 4;
      this.f32View.copyWithin(at / 4, from, from + data.byteLength / 4);
    } else if (data instanceof Float64Array) this.f64View.set(data, at / 8);
    else if (data instanceof Float32Array) this.f32View.set(data, at / 4);
    else this.i32View.set(data, at / 4);
    return at;
  }

  /** A zero-filled block of `count` float32s. */
  zeros(count: number): number {
    const at = this.alloc(count * 4);
    this.exports.zeroBytes(at, count * 4);
    return at;
  }

  /** Writes i32 arguments into a new block and returns its address. */
  args(values: readonly number[]): number {
    const at = this.alloc(values.length * 4);
    this.i32View.set(values, at / 4);
    return at;
  }

  /**
   * Copies `target.length` elements from `at` into `target` (resident from then on if `at` is an
   * output block).
   */
  copyOut(at: number, target: TypedArray): void {
    if (this.owns(target)) {
      // Written in place (output gave target's own address), or copied within the memory.
      const [from, to] = [at / 4, target.byteOffset / 4];
      if (from !== to) this.f32View.copyWithin(to, from, from + target.byteLength / 4);
      return;
    }
    if (target instanceof Float64Array) {
      target.set(this.f64View.subarray(at / 8, at / 8 + target.length));
    } else if (target instanceof Float32Array) {
      target.set(this.f32View.subarray(at / 4, at / 4 + target.length));
    } else {
      target.set(this.i32View.subarray(at / 4, at / 4 + target.length));
    }
    this.ring.remember(at, target);
  }
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/** Decodes base64 with atob, which Node ≥ 16 and every browser provide. */
function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let runtime: WasmRuntime | null | undefined;
let twin: WasmRuntime | null | undefined;

/**
 * The runtime, made on first use: the relaxed-SIMD build where the host validates it, else the
 * baseline build over a shared memory where the host allows one, else over an ordinary one
 * (single thread); null where WebAssembly or its SIMD instructions are missing.
 */
export function wasmRuntime(): WasmRuntime | null {
  if (runtime === undefined) runtime = makeRuntime();
  return runtime;
}

/**
 * The runtime for calls that run on one thread: where the main runtime's memory is shared, a
 * second instance of the same kernels (same SIMD flavour, so the same results) over an ordinary
 * memory, because V8 copies typed arrays into and out of a SharedArrayBuffer with relaxed atomic
 * word moves instead of memcpy (docs/performance.md#wasm-thresholds-and-kernel-choices), except
 * for a call on `arrays` of which one lives in the main runtime's memory. Elsewhere the main
 * runtime itself; null where there is none.
 */
export function singleThreadRuntime(...arrays: (TypedArray | null)[]): WasmRuntime | null {
  if (twin === undefined) {
    const main = wasmRuntime();
    twin = main === null || !main.shared ? main : makeTwin(main);
  }
  // Arrays that live in the main runtime's memory (jit's planned buffers) are read and written
  // there in place, rather than copied to the twin's memory and back.
  if (twin !== runtime && arrays.some((a) => a !== null && runtime!.owns(a))) return runtime!;
  return twin;
}

function makeTwin(main: WasmRuntime): WasmRuntime {
  try {
    return new WasmRuntime(main.variant === "relaxed" ? "relaxedLocal" : "local");
  } catch {
    return main;
  }
}

function makeRuntime(): WasmRuntime | null {
  if (webAssembly === undefined) return null;
  // validate() is false when the engine lacks SIMD (or, for the shared builds, threads; for the
  // relaxed one, relaxed SIMD: Node 20 has it only behind --experimental-wasm-relaxed-simd).
  const valid = (variant: ModuleVariant) => webAssembly!.validate(decodeBase64(MODULES[variant]));
  const candidates = (["relaxed", "shared", "local"] as const).filter(
    (variant) => (variant === "local" || canShareMemory()) && valid(variant),
  );
  // Shared memory can still be refused (a browser page without cross-origin isolation).
  for (const variant of candidates) {
    try {
      return new WasmRuntime(variant);
    } catch {
      // Try the next variant.
    }
  }
  return null;
}
