import { TapegradError } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import { f32, file } from "../test/safetensorsFiles.js";

/** A file whose header is `entries` as JSON, with `data` bytes of data. */
function fileOf(entries: Record<string, unknown>, data: number) {
  return file(JSON.stringify(entries), data);
}

function corruptMessage(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(TapegradError);
    expect((error as TapegradError).code).toBe("CORRUPT_FILE");
    return (error as TapegradError).message;
  }
  throw new Error("expected decodeSafetensors to throw");
}

describe("decodeSafetensors rejects malformed files with CORRUPT_FILE", () => {
  const w = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  it("truncated files and impossible header lengths, before allocating anything", () => {
    expect(corruptMessage(new Uint8Array(5))).toBe(
      "safetensors: file is 5 bytes, too short for the 8-byte header length",
    );
    const valid = encodeSafetensors({ w: f32([1, 2]) });
    expect(corruptMessage(valid.subarray(0, 20))).toBe(
      "safetensors: header length is 56 bytes but only 12 bytes follow the length field",
    );
    expect(corruptMessage(valid.subarray(0, valid.length - 4))).toBe(
      'safetensors: tensor "w" has data_offsets [0,8] but the data buffer is 4 bytes',
    );
    expect(corruptMessage(file("{}", 0, 2n ** 53n))).toBe(
      "safetensors: header length is 9007199254740992 bytes, over the 100000000-byte limit",
    );
    expect(corruptMessage(file("{}", 0, 2n ** 64n - 1n))).toMatch(
      /18446744073709551615 bytes, over/,
    );
    expect(corruptMessage(file("{}", 0, 100_000_001n))).toMatch(/over the 100000000-byte limit/);
    expect(corruptMessage(file("{}", 0, 1n))).toBe(
      'safetensors: header length is 1 bytes; expected at least 2 (the header "{}")',
    );
  });

  it("headers that are not UTF-8 JSON objects opening with {", () => {
    expect(corruptMessage(file('{"a":1'))).toMatch(/^safetensors: header is not valid JSON \(/);
    expect(corruptMessage(file(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))).toBe(
      "safetensors: header is not valid UTF-8",
    );
    expect(corruptMessage(file("[1,2]"))).toBe(
      "safetensors: header must be a JSON object, got an array",
    );
    expect(corruptMessage(file("null"))).toBe(
      "safetensors: header must be a JSON object, got null",
    );
    expect(corruptMessage(file(" {}"))).toBe(
      'safetensors: header must begin with "{" (byte 0x7b), got byte 0x20',
    );
    expect(corruptMessage(file('{"__metadata__":[]}'))).toBe(
      'safetensors: "__metadata__" must be an object, got an array',
    );
  });

  it("unknown dtypes and malformed entries", () => {
    const codes = "F64, F32, F16, BF16, I64, I32, I8, U8, BOOL";
    expect(corruptMessage(fileOf({ w: { ...w, dtype: "F8_E4M3" } }, 8))).toBe(
      `safetensors: tensor "w" has dtype "F8_E4M3"; expected one of ${codes}`,
    );
    expect(corruptMessage(fileOf({ w: { ...w, dtype: 4 } }, 8))).toBe(
      `safetensors: tensor "w" has dtype 4; expected one of ${codes}`,
    );
    expect(corruptMessage(fileOf({ w: 3 }, 8))).toBe(
      'safetensors: tensor "w" must be an object, got a number',
    );
    expect(corruptMessage(fileOf({ w: { dtype: "F32", shape: [2] } }, 8))).toBe(
      'safetensors: tensor "w" has no "data_offsets"',
    );
    expect(corruptMessage(fileOf({ w: { ...w, extra: 1 } }, 8))).toBe(
      'safetensors: tensor "w" has an unexpected field "extra"',
    );
  });

  it("negative, fractional and non-numeric shapes", () => {
    const expected = (shape: string) =>
      `safetensors: tensor "w" has shape ${shape}; expected an array of non-negative integers`;
    expect(corruptMessage(fileOf({ w: { ...w, shape: [2, -1] } }, 8))).toBe(expected("[2,-1]"));
    expect(corruptMessage(fileOf({ w: { ...w, shape: [0.5, 4] } }, 8))).toBe(expected("[0.5,4]"));
    expect(corruptMessage(fileOf({ w: { ...w, shape: ["2"] } }, 8))).toBe(expected('["2"]'));
    expect(corruptMessage(fileOf({ w: { ...w, shape: 2 } }, 8))).toBe(expected("2"));
    expect(
      corruptMessage(file('{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}', 8)),
    ).toBe(expected("[null]"));
  });

  it("offsets that are malformed, past the buffer or disagree with dtype and shape", () => {
    expect(corruptMessage(fileOf({ w: { ...w, data_offsets: [0] } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0]; expected [begin, end] in bytes',
    );
    expect(corruptMessage(fileOf({ w: { ...w, data_offsets: [8, 0] } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [8,0] with begin > end',
    );
    // A tiny file claiming a 4 TiB tensor: rejected by arithmetic, nothing allocated.
    const huge = { dtype: "F32", shape: [2 ** 40], data_offsets: [0, 2 ** 42] };
    expect(corruptMessage(fileOf({ w: huge }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0,4398046511104] but the data buffer is 8 bytes',
    );
    // The shape's product disagrees with the byte count.
    const conv = { dtype: "F32", shape: [4, 5], data_offsets: [0, 96] };
    expect(corruptMessage(fileOf({ "conv1.weight": conv }, 96))).toBe(
      'safetensors: tensor "conv1.weight" has data_offsets [0,96] (96 bytes) but F32 [4,5] needs 80 bytes',
    );
    // The dtype's element size disagrees with the byte count: two F64s need 16 bytes.
    expect(corruptMessage(fileOf({ w: { ...w, dtype: "F64" } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0,8] (8 bytes) but F64 [2] needs 16 bytes',
    );
  });

  it("overlaps, gaps and bytes that belong to no tensor", () => {
    const at = (begin: number) => ({ dtype: "F32", shape: [2], data_offsets: [begin, begin + 8] });
    expect(corruptMessage(fileOf({ a: at(0), b: at(4) }, 12))).toBe(
      'safetensors: tensors "a" (data_offsets [0,8]) and "b" (data_offsets [4,12]) overlap',
    );
    expect(corruptMessage(fileOf({ a: at(0), b: at(0) }, 8))).toMatch(/"a" .* and "b" .* overlap/);
    expect(corruptMessage(fileOf({ a: at(0), b: at(12) }, 20))).toBe(
      'safetensors: data bytes [8,12) belong to no tensor (gap after "a", before "b"); ' +
        'expected "b" to begin at 8',
    );
    expect(corruptMessage(fileOf({ b: at(4) }, 12))).toMatch(
      /\[0,4\) belong to no tensor \(gap at the start/,
    );
    expect(corruptMessage(fileOf({ a: at(0) }, 12))).toBe(
      "safetensors: the tensors cover 8 bytes but the data buffer is 12 bytes " +
        "(bytes [8,12) belong to no tensor)",
    );
    expect(corruptMessage(fileOf({}, 4))).toMatch(/cover 0 bytes but the data buffer is 4 bytes/);
  });

  it("names that are not dotted paths or do not form a tree", () => {
    const one = { dtype: "F32", shape: [], data_offsets: [0, 4] };
    const two = { dtype: "F32", shape: [], data_offsets: [4, 8] };
    expect(corruptMessage(file(`{"__proto__":${JSON.stringify(one)}}`, 4))).toBe(
      'safetensors: tensor name "__proto__" uses the reserved key "__proto__"',
    );
    expect(corruptMessage(fileOf({ "a.__proto__.b": one }, 4))).toMatch(/reserved key "__proto__"/);
    expect(corruptMessage(fileOf({ "a..b": one }, 4))).toBe(
      'safetensors: tensor name "a..b" is not a dotted path (empty segment)',
    );
    expect(corruptMessage(fileOf({ "": one }, 4))).toMatch(/tensor name "" is not a dotted path/);
    expect(corruptMessage(fileOf({ a: one, "a.b": two }, 8))).toMatch(
      /^safetensors: tensor names do not form a tree \(.*"a\.b" passes through the leaf "a"\)$/,
    );
  });

  it("metadata that is not strings, and a bad numbers marker", () => {
    const one = { dtype: "F64", shape: [], data_offsets: [0, 8] };
    expect(corruptMessage(fileOf({ __metadata__: { epoch: 3 } }, 0))).toBe(
      'safetensors: "__metadata__" value "epoch" must be a string, got a number',
    );
    expect(corruptMessage(file('{"__metadata__":{"__proto__":"x"}}'))).toBe(
      'safetensors: "__metadata__" has the reserved key "__proto__"',
    );
    const marked = (marker: string, entry: object = one) =>
      fileOf({ __metadata__: { "tapegrad.numbers": marker }, step: entry }, 8);
    expect(corruptMessage(marked("step"))).toBe(
      'safetensors: metadata "tapegrad.numbers" must be a JSON array of names, got "step"',
    );
    expect(corruptMessage(marked('["epoch"]'))).toBe(
      'safetensors: metadata "tapegrad.numbers" names "epoch", not in the file',
    );
    expect(corruptMessage(marked('["step"]', { ...one, dtype: "I32", shape: [2] }))).toBe(
      'safetensors: metadata "tapegrad.numbers" names "step", which is I32 [2]; expected F64 []',
    );
  });

  it("survives a pathologically nested header", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const message = corruptMessage(
      file(`{"w":{"dtype":${deep},"shape":[],"data_offsets":[0,4]}}`, 4),
    );
    expect(message).toMatch(/^safetensors: (tensor "w" has dtype .*|header is not valid JSON)/);
  });
});
