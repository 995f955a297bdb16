import type { DType, TypedArray } from "@tapegrad/autodiff";
import { ELEMENT_BYTES } from "./format.js";

/** Typed arrays use the host's byte order; the file is little-endian. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `data`'s elements little-endian into `view` from byte `position` on. */
export function writeLittleEndian(view: DataView, position: number, data: TypedArray): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    const source = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    new Uint8Array(view.buffer, view.byteOffset + position, data.byteLength).set(source);
    return;
  }
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(position + 4 * i, data[i]!, true);
    else if (data instanceof Float64Array) view.setFloat64(position + 8 * i, data[i]!, true);
    else view.setInt32(position + 4 * i, data[i]!, true);
  }
}

/**
 * The `count` elements at byte `position` (any alignment) as a typed array: a view of `bytes`
 * where the host is little-endian and the position aligned, else a copy. Callers copy it again.
 */
export function readLittleEndian(
  bytes: Uint8Array,
  position: number,
  dtype: DType,
  count: number,
): TypedArray {
  const width = ELEMENT_BYTES[dtype];
  const start = bytes.byteOffset + position;
  if (HOST_IS_LITTLE_ENDIAN && start % width === 0) return view(dtype, bytes.buffer, start, count);
  if (HOST_IS_LITTLE_ENDIAN) {
    // Copied by the constructor: a Node Buffer's slice would be a view of the whole file.
    const copy = new Uint8Array(bytes.subarray(position, position + count * width));
    return view(dtype, copy.buffer, 0, count);
  }
  const data = new DataView(bytes.buffer, start, count * width);
  const out = view(dtype, new ArrayBuffer(count * width), 0, count);
  for (let i = 0; i < count; i++) {
    if (dtype === "float32") out[i] = data.getFloat32(4 * i, true);
    else if (dtype === "float64") out[i] = data.getFloat64(8 * i, true);
    else out[i] = data.getInt32(4 * i, true);
  }
  return out;
}

function view(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, count: number) {
  if (dtype === "float32") return new Float32Array(buffer, byteOffset, count);
  if (dtype === "float64") return new Float64Array(buffer, byteOffset, count);
  return new Int32Array(buffer, byteOffset, count);
}
