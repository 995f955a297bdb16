import { TapegradError, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "./safetensors.js";
import { halfToNumber } from "./safetensors/elements.js";
import { file } from "../test/safetensorsFiles.js";

/** A file holding one tensor "t" of file dtype `code` and shape `shape`, with bytes `data`. */
function oneTensor(code: string, shape: number[], data: Uint8Array): Uint8Array {
  const header = JSON.stringify({ t: { dtype: code, shape, data_offsets: [0, data.length] } });
  return file(header, data);
}

/** Little-endian bytes written by `write` into a DataView of `length` bytes. */
function bytesOf(length: number, write: (view: DataView) => void): Uint8Array {
  const bytes = new Uint8Array(length);
  write(new DataView(bytes.buffer));
  return bytes;
}

const load = (bytes: Uint8Array) => decodeSafetensors(bytes).tree as { t: Tensor };

describe("safetensors files written by other frameworks", () => {
  it("load F16 as float32, exactly: normals, subnormals, zeros, infinities and NaN", () => {
    // The bit patterns and their values by the IEEE 754 binary16 definition.
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0000, 0],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const data = bytesOf(2 * cases.length, (v) =>
      cases.forEach(([b], i) => v.setUint16(2 * i, b, true)),
    );
    const t = load(oneTensor("F16", [2, 5], data)).t;
    expect(t.dtype).toBe("float32");
    expect(t.shape).toEqual([2, 5]);
    expect(Array.from(t.data).every((v, i) => Object.is(v, cases[i]![1]))).toBe(true);
    expect(Number.isNaN(halfToNumber(0x7e00))).toBe(true);
  });

  it("load BF16 as float32: the top 16 bits of the float32", () => {
    const values = [1, -2.5, 3.140625, 2 ** 100, -0, 2 ** -126];
    const bits = new Uint32Array(new Float32Array(values).buffer);
    const data = bytesOf(2 * values.length, (v) =>
      bits.forEach((b, i) => v.setUint16(2 * i, b >>> 16, true)),
    );
    const t = load(oneTensor("BF16", [6], data)).t;
    expect(t.dtype).toBe("float32");
    // Each value above has at most 8 significant bits, so bfloat16 holds it exactly.
    expect(Array.from(t.data).every((v, i) => Object.is(v, Math.fround(values[i]!)))).toBe(true);
  });

  it("load I64, I8, U8 and BOOL as int32", () => {
    const i64 = bytesOf(24, (v) =>
      [5n, -7n, 2147483647n].forEach((x, i) => v.setBigInt64(8 * i, x, true)),
    );
    expect(Array.from(load(oneTensor("I64", [3], i64)).t.data)).toEqual([5, -7, 2147483647]);
    const i8 = new Uint8Array([0x80, 0xff, 0x7f]);
    expect(Array.from(load(oneTensor("I8", [3], i8)).t.data)).toEqual([-128, -1, 127]);
    expect(Array.from(load(oneTensor("U8", [3], i8)).t.data)).toEqual([128, 255, 127]);
    const t = load(oneTensor("BOOL", [2, 2], new Uint8Array([1, 0, 0, 1]))).t;
    expect(t.dtype).toBe("int32");
    expect(t.toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it("name the tensor when an I64 does not fit int32, and reject BOOL bytes other than 0 and 1", () => {
    const big = bytesOf(16, (v) => {
      v.setBigInt64(0, 1n, true);
      v.setBigInt64(8, 2n ** 40n, true);
    });
    const error = (() => {
      try {
        decodeSafetensors(oneTensor("I64", [2], big));
      } catch (e) {
        return e as TapegradError;
      }
      throw new Error("expected an error");
    })();
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(
      'safetensors: tensor "t" (I64) holds 1099511627776 at element 1, which does not fit the ' +
        "int32 it loads as (−2147483648 to 2147483647)",
    );
    expect(() => decodeSafetensors(oneTensor("BOOL", [2], new Uint8Array([1, 2])))).toThrow(
      'safetensors: tensor "t" (BOOL) holds byte 2 at element 1; expected 0 or 1',
    );
  });

  it("reject a truncated F16 tensor as CORRUPT_FILE", () => {
    const header = JSON.stringify({ t: { dtype: "F16", shape: [4], data_offsets: [0, 8] } });
    try {
      decodeSafetensors(file(header, 6));
      throw new Error("expected an error");
    } catch (e) {
      expect((e as TapegradError).code).toBe("CORRUPT_FILE");
      expect((e as Error).message).toBe(
        'safetensors: tensor "t" has data_offsets [0,8] but the data buffer is 6 bytes',
      );
    }
    const short = JSON.stringify({ t: { dtype: "F16", shape: [4], data_offsets: [0, 6] } });
    expect(() => decodeSafetensors(file(short, 6))).toThrow(
      'safetensors: tensor "t" has data_offsets [0,6] (6 bytes) but F16 [4] needs 8 bytes',
    );
  });
});
