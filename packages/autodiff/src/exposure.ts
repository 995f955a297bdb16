import type { TypedArray } from "./dtype.js";

// Which tensor buffers user code has been handed (Tensor.data). Tensors are values, but nothing
// stops a caller from writing through the array it gets; a backend that keeps its own copy of a
// buffer (the wasm backend's resident kernel outputs) must not trust that copy once the buffer
// has been handed out. Keyed by the ArrayBuffer, so every view of it counts.

const exposed = new WeakSet<ArrayBufferLike>();

/** Records that `array`'s memory has been handed to user code. */
export function markExposed(array: TypedArray): void {
  exposed.add(array.buffer);
}

/** Whether any view of `array`'s memory has been handed to user code. */
export function isExposed(array: TypedArray): boolean {
  return exposed.has(array.buffer);
}
