import { TapegradError, type TypedArray } from "@tapegrad/autodiff";
import { shapeProduct } from "./format.js";
import type { Entry } from "./header.js";
import { readLittleEndian } from "./littleEndian.js";
import { corrupt } from "./messages.js";

// A tensor's elements as the dtype it loads as (FILE_CODES): F32, F64 and I32 as they are; F16
// and BF16 widened to float32 (exact); I64, I8, U8 and BOOL as int32.

/** Entry e's elements, which start at byte `position` of `bytes`. */
export function readElements(bytes: Uint8Array, position: number, e: Entry): TypedArray {
  const count = shapeProduct(e.shape);
  const data = new DataView(bytes.buffer, bytes.byteOffset + position, e.end - e.begin);
  switch (e.code) {
    case "F64":
      return readLittleEndian(bytes, position, "float64", count);
    case "F32":
      return readLittleEndian(bytes, position, "float32", count);
    case "I32":
      return readLittleEndian(bytes, position, "int32", count);
    case "F16":
      return Float32Array.from({ length: count }, (_, i) =>
        halfToNumber(data.getUint16(2 * i, true)),
      );
    case "BF16": {
      // bfloat16 is the top half of a float32's bits.
      const bits = Uint32Array.from({ length: count }, (_, i) => data.getUint16(2 * i, true) << 16);
      return new Float32Array(bits.buffer);
    }
    case "I64":
      return Int32Array.from({ length: count }, (_, i) =>
        int32Of(e, i, data.getBigInt64(8 * i, true)),
      );
    case "I8":
      return Int32Array.from({ length: count }, (_, i) => data.getInt8(i));
    case "U8":
      return Int32Array.from({ length: count }, (_, i) => data.getUint8(i));
    case "BOOL":
      return Int32Array.from({ length: count }, (_, i) => boolOf(e, i, data.getUint8(i)));
    default:
      throw corrupt(`tensor "${e.name}" has dtype ${e.code}, which has no reader`);
  }
}

/** An IEEE 754 half-precision value (its 16 bits) as a number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function int32Of(e: Entry, i: number, value: bigint): number {
  if (value < -2147483648n || value > 2147483647n) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `safetensors: tensor "${e.name}" (I64) holds ${value} at element ${i}, which does not ` +
        `fit the int32 it loads as (−2147483648 to 2147483647)`,
    );
  }
  return Number(value);
}

function boolOf(e: Entry, i: number, byte: number): number {
  if (byte > 1)
    throw corrupt(`tensor "${e.name}" (BOOL) holds byte ${byte} at element ${i}; expected 0 or 1`);
  return byte;
}
