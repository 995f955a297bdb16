import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { TapegradError } from "@tapegrad/autodiff";
import { mnistFromIdx, readIdx, writeIdx, type IdxData, type IdxDType } from "../src/index.js";
import { readIdxFile } from "../src/node/readIdxFile.js";
import { fuzzOptions } from "@tapegrad/test-kit";
import { tempDir } from "./fixtures.js";

// Mutated IDX files, raw through readIdx and gzip-compressed through readIdxFile: valid files of
// random dtype and shape, damaged in the header (magic, type code, rank, sizes up to 2^32 − 1)
// or anywhere (bit flips, overwritten, inserted or deleted bytes, truncation), and for gzip also
// damaged after compression. Each must parse to well-formed data or throw CORRUPT_FILE, with
// memory bounded by the file, not by what its header claims.

const dir = tempDir("tapegrad-fuzz-idx-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARRAYS: Record<IdxDType, new (n: number) => ArrayLike<number>> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const idxFile = fc
  .record({
    dtype: fc.constantFrom<IdxDType>("uint8", "int8", "int16", "int32", "float32", "float64"),
    shape: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
    seed: fc.nat(),
  })
  .map(({ dtype, shape, seed }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new ARRAYS[dtype](size) as IdxData["data"];
    for (let i = 0; i < size; i++) data[i] = ((seed + i * 37) % 200) - 60;
    return writeIdx({ dtype, shape, data });
  });

type Mutation = (bytes: Uint8Array) => Uint8Array;

const anywhere: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 6 })
    .map((flips) => (b: Uint8Array) => {
      const out = b.slice();
      if (out.length === 0) return out;
      for (const [at, bit] of flips) out[at % out.length]! ^= 1 << bit;
      return out;
    }),
  fc.nat().map((at) => (b: Uint8Array) => b.slice(0, at % (b.length + 1))),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 24 })).map(([at, bytes]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return Uint8Array.from([...b.subarray(0, i), ...bytes, ...b.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 12 })).map(([at, n]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + n)]);
  }),
);

/** Header damage: any byte of the magic, or one size set to a random or huge uint32. */
const header: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(255)).map(([at, value]) => (b: Uint8Array) => {
    const out = b.slice();
    if (at < out.length) out[at] = value;
    return out;
  }),
  fc
    .tuple(
      fc.nat(),
      fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2 ** 16, 2 ** 31, 2 ** 32 - 1, 0x7fffffff)),
    )
    .map(([which, size]) => (b: Uint8Array) => {
      const out = b.slice();
      const rank = out[3] ?? 0;
      if (rank === 0 || out.length < 4 + 4 * rank) return out;
      new DataView(out.buffer).setUint32(4 + 4 * (which % rank), size, false);
      return out;
    }),
);

/** Bits flipped after the header only: the file stays valid, its values change. */
const payload: fc.Arbitrary<Mutation> = fc
  .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 6 })
  .map((flips) => (b: Uint8Array) => {
    const start = 4 + 4 * (b[3] ?? 0);
    const out = b.slice();
    if (start >= out.length) return out;
    for (const [at, bit] of flips) out[start + (at % (out.length - start))]! ^= 1 << bit;
    return out;
  });

const mutations = fc.oneof(
  { weight: 1, arbitrary: fc.array(payload, { minLength: 1, maxLength: 2 }) },
  { weight: 4, arbitrary: fc.array(fc.oneof(anywhere, header), { minLength: 1, maxLength: 3 }) },
);
const mutate = (bytes: Uint8Array, ms: Mutation[]) => ms.reduce((b, m) => m(b), bytes);

const counts = { raw: 0, gzip: 0, parsed: 0 };

/** A parse result must be consistent: prod(shape) elements in the dtype's array type. */
function checkIdx(idx: IdxData): void {
  counts.parsed++;
  const size = idx.shape.reduce((a, b) => a * b, 1);
  expect(idx.shape.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
  expect(idx.data).toBeInstanceOf(ARRAYS[idx.dtype]);
  expect(idx.data.length).toBe(size);
}

/** Rethrows anything but a CORRUPT_FILE error. */
function expectCorrupt(error: unknown, what: string): void {
  if (error instanceof TapegradError && error.code === "CORRUPT_FILE") return;
  const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  throw new Error(`${what} threw ${shown}, not a CORRUPT_FILE error`, { cause: error });
}

describe("IDX readers on mutated files", () => {
  it("readIdx: parses or throws CORRUPT_FILE for every raw file", () => {
    fc.assert(
      fc.property(idxFile, mutations, (bytes, ms) => {
        counts.raw++;
        let idx: IdxData;
        try {
          idx = readIdx(mutate(bytes, ms), "fuzz.idx");
        } catch (error) {
          return expectCorrupt(error, "readIdx");
        }
        checkIdx(idx);
        // MNIST decoding of what parsed: a dataset or a precise CORRUPT_FILE, nothing else.
        try {
          mnistFromIdx(idx, idx);
        } catch (error) {
          expectCorrupt(error, "mnistFromIdx");
        }
      }),
      fuzzOptions("idx raw", 2500),
    );
    expect(counts.raw).toBeGreaterThanOrEqual(2_000);
  });

  it("readIdxFile: parses or throws CORRUPT_FILE for every gzip file", async () => {
    // Damage before compression (a well-formed stream of a bad file) or after (a bad stream).
    const gzipFile = fc
      .tuple(idxFile, fc.option(mutations), fc.option(mutations))
      .map(([bytes, before, after]) => {
        const compressed = gzipSync(before === null ? bytes : mutate(bytes, before));
        return after === null ? compressed : mutate(compressed, after);
      });
    await fc.assert(
      fc.asyncProperty(gzipFile, async (bytes) => {
        const path = join(dir, `f${counts.gzip++}.gz`);
        writeFileSync(path, bytes);
        try {
          checkIdx(await readIdxFile(path));
        } catch (error) {
          expectCorrupt(error, "readIdxFile");
        } finally {
          rmSync(path);
        }
      }),
      fuzzOptions("idx gzip", 2200),
    );
    expect(counts.gzip).toBeGreaterThanOrEqual(2_000);
    console.log(
      `idx fuzz: ${counts.raw} raw and ${counts.gzip} gzip files, ${counts.parsed} parsed, ` +
        `the rest rejected as CORRUPT_FILE`,
    );
  });

  it("rejects headers that claim huge payloads before allocating them", async () => {
    const claim = (shape: number[], payload: Uint8Array) => {
      const head = new Uint8Array(4 + 4 * shape.length);
      head[2] = 0x08;
      head[3] = shape.length;
      shape.forEach((d, k) => new DataView(head.buffer).setUint32(4 + 4 * k, d, false));
      const bytes = new Uint8Array(head.length + payload.length);
      bytes.set(head);
      bytes.set(payload, head.length);
      return bytes;
    };
    // Terabytes declared: rejected from the header alone, raw or compressed.
    const terabytes = claim([2 ** 20, 2 ** 20, 2 ** 10], new Uint8Array(16));
    const tb = join(dir, "terabytes.gz");
    writeFileSync(tb, gzipSync(terabytes));
    // 2 GiB declared over 16 bytes: a size mismatch, found without inflating anything big.
    const lying = join(dir, "lying.gz");
    writeFileSync(lying, gzipSync(claim([2 ** 31], new Uint8Array(16))));
    // A gzip bomb: 64 MiB of zeros (64 KiB compressed) behind a header that declares 1 KiB.
    const bomb = join(dir, "bomb.gz");
    writeFileSync(bomb, gzipSync(claim([1024], new Uint8Array(2 ** 26)), { level: 9 }));

    const before = process.memoryUsage().arrayBuffers;
    expect(() => readIdx(terabytes)).toThrow(/more than the 2147483648 this reader accepts/);
    await expect(readIdxFile(tb)).rejects.toThrow(/more than the 2147483648 this reader accepts/);
    await expect(readIdxFile(lying)).rejects.toThrow(/size mismatch/);
    await expect(readIdxFile(bomb)).rejects.toThrow(/decompresses to more than/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });
});
