import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TapegradError, Tensor } from "@tapegrad/autodiff";
import { decodeSafetensors, encodeSafetensors } from "../src/index.js";
import { checkOutcome, fuzzOptions, tensorOf } from "@tapegrad/test-kit";

// Mutated safetensors files: valid encodings of random trees, then damaged at the byte level
// (bit flips, overwritten, inserted or deleted bytes, truncation, a lying length field) or at
// the header level (a field of the JSON replaced by a hostile value). decodeSafetensors must
// return a well-formed checkpoint or throw CORRUPT_FILE, and never allocate what a header
// claims before checking it against the bytes that are actually there.

let files = 0;
let decoded = 0;

const name = fc.constantFrom("w", "b", "layer", "0", "1", "x");
const tree = fc.dictionary(
  name,
  fc.oneof(
    tensorOf(),
    fc.double({ noNaN: false }),
    fc.dictionary(name, fc.oneof(tensorOf(), fc.double()), { maxKeys: 3 }),
  ),
  { minKeys: 1, maxKeys: 4 },
);
const metadata = fc.dictionary(fc.constantFrom("epoch", "note", "é"), fc.string({ maxLength: 8 }), {
  maxKeys: 2,
});
const valid = fc.tuple(tree, metadata).map(([t, m]) => encodeSafetensors(t, m));

/** Values a hostile header may hold where numbers, names or lists belong. */
const hostile = fc.oneof(
  fc.constantFrom(
    -1,
    0.5,
    2 ** 32,
    2 ** 53,
    2 ** 64,
    1e300,
    "F16",
    "F32",
    "I32",
    null,
    true,
    {},
    [],
    [0],
    [0, -1],
    [2 ** 53, 2 ** 53],
    [1e6, 1e6, 1e6],
    [0, 4e12],
    "__proto__",
  ),
  fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 4 }),
);

type Mutation = (bytes: Uint8Array) => Uint8Array;

const byteLevel: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
    .map((flips) => (b: Uint8Array) => {
      const out = b.slice();
      for (const [at, bit] of flips) out[at % out.length]! ^= 1 << bit;
      return out;
    }),
  fc
    .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }))
    .map(([at, bytes]) => (b: Uint8Array) => {
      const out = b.slice();
      out.set(bytes.subarray(0, Math.max(0, out.length - (at % out.length))), at % out.length);
      return out;
    }),
  fc.nat().map((at) => (b: Uint8Array) => b.slice(0, at % (b.length + 1))),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 32 })).map(([at, bytes]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return Uint8Array.from([...b.subarray(0, i), ...bytes, ...b.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 16 })).map(([at, n]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + n)]);
  }),
  // A length field that lies: small, off by a few, or terabytes.
  fc
    .oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0n, 1n, 2n, 7n, 2n ** 40n, 2n ** 63n, 2n ** 64n - 1n),
    )
    .map((length) => (b: Uint8Array) => {
      const out = b.slice();
      if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, length, true);
      return out;
    }),
);

/** Re-encodes the header with one field replaced (the length field stays truthful). */
const headerLevel: fc.Arbitrary<Mutation> = fc
  .tuple(fc.nat(), fc.constantFrom("dtype", "shape", "data_offsets", "extra", "whole"), hostile)
  .map(([which, field, value]) => (b: Uint8Array) => {
    // After a byte-level mutation the header may no longer parse: leave such a file as it is.
    let length: number;
    let header: Record<string, Record<string, unknown>>;
    try {
      length = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
      if (8 + length > b.length) return b;
      header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + length)));
      if (typeof header !== "object" || header === null) return b;
    } catch {
      return b;
    }
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    const target = names[which % Math.max(names.length, 1)];
    if (target === undefined || field === "whole") {
      header[target ?? "x"] = value as Record<string, unknown>;
    } else {
      const entry = header[target];
      if (typeof entry !== "object" || entry === null) return b;
      entry[field] = value;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + (b.length - 8 - length));
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(b.subarray(8 + length), 8 + json.length);
    return out;
  });

/** Bits flipped in the data buffer only: the file stays valid, its values turn odd (NaN, …). */
const dataOnly: fc.Arbitrary<Mutation> = fc
  .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
  .map((flips) => (b: Uint8Array) => {
    const start = 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const out = b.slice();
    if (start >= out.length) return out;
    for (const [at, bit] of flips) out[start + (at % (out.length - start))]! ^= 1 << bit;
    return out;
  });

const mutations = fc.oneof(
  { weight: 1, arbitrary: fc.array(dataOnly, { minLength: 1, maxLength: 2 }) },
  {
    weight: 4,
    arbitrary: fc.array(fc.oneof(byteLevel, headerLevel), { minLength: 1, maxLength: 3 }),
  },
);

/** Decodes `bytes`: a well-formed checkpoint, or a CORRUPT_FILE error; anything else fails. */
function decodeChecked(bytes: Uint8Array): void {
  files++;
  let checkpoint;
  try {
    checkpoint = decodeSafetensors(bytes);
  } catch (error) {
    if (error instanceof TapegradError && error.code === "CORRUPT_FILE") return;
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`decodeSafetensors threw ${what}, not a CORRUPT_FILE error`, { cause: error });
  }
  const visit = (node: unknown, path: string): void => {
    if (node instanceof Tensor) return checkOutcome(`leaf ${path}`, node);
    if (typeof node === "number") return;
    if (typeof node !== "object" || node === null)
      throw new Error(`leaf ${path} is ${String(node)}`);
    for (const [key, child] of Object.entries(node)) visit(child, `${path}.${key}`);
  };
  visit(checkpoint.tree, "");
  for (const value of Object.values(checkpoint.metadata)) expect(typeof value).toBe("string");
  decoded++;
}

describe("decodeSafetensors on mutated files", () => {
  it("returns a checkpoint or throws CORRUPT_FILE for every file", () => {
    fc.assert(
      fc.property(valid, mutations, (bytes, ms) => {
        decodeChecked(ms.reduce((b, m) => m(b), bytes));
      }),
      fuzzOptions("safetensors", 2500),
    );
    expect(files).toBeGreaterThanOrEqual(2_000);
    console.log(`safetensors fuzz: ${files} files, ${decoded} decoded, the rest CORRUPT_FILE`);
  });

  it("rejects headers that claim terabytes before allocating anything", () => {
    const claims = [
      // Length field: 2^40 bytes of header.
      Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0x7b, 0x7d]),
      // A tensor of 10^18 float32 elements whose data is not there.
      encodeHeader({ x: { dtype: "F32", shape: [1e6, 1e6, 1e6], data_offsets: [0, 4e18] } }),
      encodeHeader({ x: { dtype: "F64", shape: [2 ** 40], data_offsets: [0, 2 ** 43] } }),
      encodeHeader({ x: { dtype: "I32", shape: [2 ** 26, 2 ** 26], data_offsets: [0, 2 ** 54] } }),
    ];
    const before = process.memoryUsage().arrayBuffers;
    for (const bytes of claims) {
      const start = performance.now();
      expect(() => decodeSafetensors(bytes)).toThrow(TapegradError);
      expect(performance.now() - start).toBeLessThan(100);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });
});

describe("decodeSafetensors on hostile headers", () => {
  it("rejects deep nesting and very long names with CORRUPT_FILE", () => {
    const deep = `{"x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    const longName = Array.from({ length: 50_000 }, () => "a").join(".");
    const headers = [
      deep,
      JSON.stringify({ [longName]: { dtype: "F32", shape: [], data_offsets: [0, 4] } }),
      JSON.stringify({ __metadata__: { "tapegrad.numbers": deep } }),
    ];
    for (const header of headers) {
      const bytes = encodeHeader(header, 4);
      files++;
      try {
        decodeSafetensors(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(TapegradError);
        expect((error as TapegradError).code).toBe("CORRUPT_FILE");
      }
    }
  });
});

/** A header (an object, or JSON text as it is) with its length field and `data` zero bytes. */
function encodeHeader(header: unknown, data = 0): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}
