import { describe, expect, it } from "vitest";
import { TapegradError } from "@tapegrad/autodiff";
import { readIdx, readIdxHeader, writeIdx, type IdxData } from "./idx.js";

function corrupt(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof TapegradError && error.code === "CORRUPT_FILE") return error.message;
    throw error;
  }
  throw new Error("expected a CORRUPT_FILE error");
}

// A 2×3 uint8 IDX file written out byte by byte: magic 00 00 08 02, dims 2 and 3, six pixels.
const SMALL = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 250, 251, 252]);

describe("readIdx", () => {
  it("parses a hand-written file exactly", () => {
    const idx = readIdx(SMALL);
    expect(idx.dtype).toBe("uint8");
    expect(idx.shape).toEqual([2, 3]);
    expect(idx.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(idx.data)).toEqual([1, 2, 3, 250, 251, 252]);
  });

  it("reads big-endian elements of every type", () => {
    // int16 −2 is ff fe; int32 0x01020304; float32 1.5 is 3f c0 00 00.
    const i16 = Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x00]);
    expect(Array.from(readIdx(i16).data)).toEqual([-2, 256]);
    const i32 = Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4]);
    expect(Array.from(readIdx(i32).data)).toEqual([0x01020304]);
    const f32 = Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]);
    expect(Array.from(readIdx(f32).data)).toEqual([1.5]);
    const i8 = Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x7f]);
    expect(Array.from(readIdx(i8).data)).toEqual([-1, 127]);
  });

  it("round-trips writeIdx for every type", () => {
    const cases: IdxData[] = [
      { dtype: "uint8", shape: [2, 2], data: Uint8Array.from([0, 1, 254, 255]) },
      { dtype: "int8", shape: [3], data: Int8Array.from([-128, 0, 127]) },
      { dtype: "int16", shape: [1, 2], data: Int16Array.from([-32768, 32767]) },
      { dtype: "int32", shape: [2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]) },
      { dtype: "float32", shape: [2, 1, 1], data: Float32Array.from([-0.25, 3e38]) },
      { dtype: "float64", shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
    ];
    for (const idx of cases) {
      const back = readIdx(writeIdx(idx));
      expect(back.dtype).toBe(idx.dtype);
      expect(back.shape).toEqual(idx.shape);
      expect(back.data).toEqual(idx.data);
    }
  });

  it("rejects a wrong magic number", () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]);
    expect(corrupt(() => readIdx(png, "x.idx"))).toBe(
      "x.idx: bad magic number 89 50 4e 47: an IDX file starts with 00 00 <type> <dims>; this is not one",
    );
    const badType = Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0]);
    expect(corrupt(() => readIdx(badType))).toMatch(
      /IDX data: bad magic number 00 00 07 01: unknown type code 07; expected 08 \(uint8\)/,
    );
    expect(corrupt(() => readIdx(Uint8Array.from([0, 0, 8, 0])))).toMatch(/declares 0 dimensions/);
    expect(corrupt(() => readIdx(Uint8Array.from([0x1f, 0x8b, 8, 0])))).toMatch(
      /is gzip-compressed; decompress it first/,
    );
  });

  it("rejects truncated files", () => {
    expect(corrupt(() => readIdx(SMALL.subarray(0, 3), "f"))).toBe(
      "f: truncated: an IDX header needs at least 4 bytes, got 3",
    );
    expect(corrupt(() => readIdx(SMALL.subarray(0, 10), "f"))).toBe(
      "f: truncated header: 2 dimensions need 12 header bytes, got 10",
    );
    expect(corrupt(() => readIdx(SMALL.subarray(0, 17), "f"))).toBe(
      "f: size mismatch: uint8 dimensions [2,3] need 6 data bytes after the 12-byte header, " +
        "got 5 (truncated)",
    );
  });

  it("rejects payloads that do not match the dimensions", () => {
    const extra = Uint8Array.from([...SMALL, 9, 9]);
    expect(corrupt(() => readIdx(extra, "f"))).toMatch(
      /need 6 data bytes .* got 8 \(2 extra bytes\)/,
    );
    // Claims 2×4 int32 elements (32 bytes) but holds 6 bytes.
    const wrongDims = Uint8Array.from([0, 0, 0x0c, 2, 0, 0, 0, 2, 0, 0, 0, 4, 1, 2, 3, 4, 5, 6]);
    expect(corrupt(() => readIdx(wrongDims, "f"))).toMatch(
      /int32 dimensions \[2,4\] need 32 data bytes/,
    );
  });

  it("rejects an enormous declared size from the header alone", () => {
    // ffffffff × ffffffff × ffffffff float64 elements: far past any allocation.
    const huge = Uint8Array.from([0, 0, 0x0e, 3, ...new Array<number>(12).fill(0xff)]);
    expect(corrupt(() => readIdxHeader(huge, "big"))).toMatch(
      /^big: the header declares float64 dimensions \[4294967295,4294967295,4294967295\], .* more than the 2147483648 this reader accepts$/,
    );
    expect(corrupt(() => readIdx(huge, "big"))).toMatch(/more than the 2147483648/);
  });
});
