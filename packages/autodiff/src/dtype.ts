import { TapegradError } from "./errors.js";

/** Element types a tensor can hold. Floats are differentiable; int32 carries indices and labels. */
export type DType = "float32" | "float64" | "int32";

/** The differentiable dtypes. */
export type FloatDType = "float32" | "float64";
/** The storage of a tensor of each dtype: Float32Array, Float64Array or Int32Array. */
export type TypedArray = Float32Array | Float64Array | Int32Array;
/** The storage of a float tensor. */
export type FloatArray = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32"];

/**
 * The most elements one tensor may hold, 2^31 − 1 (so every index fits in an int32). Larger
 * results are rejected before anything is allocated.
 */
export const MAX_TENSOR_SIZE = 2 ** 31 - 1;

/**
 * @internal Serves the buffers that code run under `withAllocator` allocates, in place of fresh
 * ones: jit's memory plan hands the same buffers to every replay of a program. `fresh` makes the
 * buffer that would have been made; a buffer returned instead must have the same dtype and size,
 * and hold zeros when `zeroed`.
 */
export interface Allocator {
  allocate(dtype: DType, size: number, zeroed: boolean, fresh: () => TypedArray): TypedArray;
}

let allocator: Allocator | null = null;

/** @internal Runs f with its allocations served by `next`. */
export function withAllocator<R>(next: Allocator, f: () => R): R {
  const previous = allocator;
  allocator = next;
  try {
    return f();
  } finally {
    allocator = previous;
  }
}

const reuseListeners: ((memory: ArrayBufferLike) => void)[] = [];

/**
 * @internal Calls `listener` whenever an allocator hands out a buffer again for new contents: a
 * cache that assumes a buffer's contents never change (the wasm backend's resident copies) must
 * forget it.
 */
export function onBufferReuse(listener: (memory: ArrayBufferLike) => void): void {
  reuseListeners.push(listener);
}

/** @internal Tells the listeners that `memory` is about to hold new contents. */
export function announceReuse(memory: ArrayBufferLike): void {
  for (const listener of reuseListeners) listener(memory);
}

/**
 * Allocates a zero-filled buffer of `size` elements for `dtype`: INVALID_ARGUMENT past
 * MAX_TENSOR_SIZE, OUT_OF_MEMORY when the host cannot provide the memory.
 */
export function allocate(dtype: DType, size: number): TypedArray {
  if (allocator !== null) return allocator.allocate(dtype, size, true, () => zeroed(dtype, size));
  return zeroed(dtype, size);
}

function zeroed(dtype: DType, size: number): TypedArray {
  checkSize(dtype, size);
  try {
    switch (dtype) {
      case "float32":
        return new Float32Array(size);
      case "float64":
        return new Float64Array(size);
      case "int32":
        return new Int32Array(size);
    }
  } catch (error) {
    throw outOfMemory(dtype, size, error);
  }
}

/** Node's Buffer, whose allocUnsafeSlow skips zero-filling; undefined in browsers. */
const NodeBuffer: { allocUnsafeSlow(bytes: number): Uint8Array } | undefined = Reflect.get(
  globalThis,
  "Buffer",
);

/** Below this many bytes a zeroed array costs no more than an unfilled one. */
const UNFILLED_MIN_BYTES = 4096;

/**
 * Set (TAPEGRAD_POISON_UNINITIALIZED=1, as the test suite runs) to fill every array
 * allocateUninitialized returns, whatever its size, with NaN (−1 for int32), so that a kernel
 * which leaves an element unwritten fails tests instead of passing on memory that was zero.
 */
const poison = typeof process !== "undefined" && process.env?.TAPEGRAD_POISON_UNINITIALIZED === "1";

/**
 * A buffer of `size` elements whose contents are unspecified, for an output that a kernel
 * writes in full. In Node it skips the zero-filling that every typed-array constructor does
 * (Buffer.allocUnsafeSlow): a LeNet-5 training step fills about 4.5 MB of fresh outputs, and
 * their zeroing was a tenth of its CPU profile. Elsewhere it is allocate's zeroed buffer.
 */
export function allocateUninitialized(dtype: DType, size: number): TypedArray {
  if (allocator === null) return unfilled(dtype, size);
  return allocator.allocate(dtype, size, false, () => unfilled(dtype, size));
}

/**
 * @internal `buffer`, filled as allocateUninitialized fills a new one: with NaN (−1 for int32)
 * when the test suite poisons uninitialised memory, else as it is.
 */
export function poisoned<T extends TypedArray>(buffer: T): T {
  return poison ? (buffer.fill(buffer instanceof Int32Array ? -1 : NaN) as T) : buffer;
}

function unfilled(dtype: DType, size: number): TypedArray {
  if (poison) return poisoned(zeroed(dtype, size));
  const bytes = size * bytesPerElement(dtype);
  if (NodeBuffer === undefined || !(bytes >= UNFILLED_MIN_BYTES)) return zeroed(dtype, size);
  checkSize(dtype, size);
  let memory: ArrayBufferLike;
  try {
    memory = NodeBuffer.allocUnsafeSlow(bytes).buffer;
  } catch (error) {
    throw outOfMemory(dtype, size, error);
  }
  switch (dtype) {
    case "float32":
      return new Float32Array(memory, 0, size);
    case "float64":
      return new Float64Array(memory, 0, size);
    case "int32":
      return new Int32Array(memory, 0, size);
  }
}

function checkSize(dtype: DType, size: number): void {
  if (!(Number.isSafeInteger(size) && size >= 0 && size <= MAX_TENSOR_SIZE)) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `cannot make a ${dtype} tensor of ${size} elements: ` +
        `a tensor holds at most ${MAX_TENSOR_SIZE}`,
    );
  }
}

function outOfMemory(dtype: DType, size: number, cause: unknown): TapegradError {
  const bytes = size * bytesPerElement(dtype);
  return new TapegradError(
    "OUT_OF_MEMORY",
    `cannot allocate a ${dtype} tensor of ${size} elements (${bytes} bytes): out of memory`,
    { cause },
  );
}

export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  return "int32";
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== "int32";
}

export function isDType(value: unknown): value is DType {
  return value === "float32" || value === "float64" || value === "int32";
}

/** The result type of a binary op: the wider float wins; int32 only when both are int32. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === "float64" || b === "float64") return "float64";
  return "float32";
}

/** Bytes per element, as stored and as written to files. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}
