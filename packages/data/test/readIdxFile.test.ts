import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { TapegradError } from "@tapegrad/autodiff";
import { writeIdx } from "../src/formats/idx.js";
import { readIdxFile } from "../src/node/readIdxFile.js";
import { tempDir } from "./fixtures.js";

async function corrupt(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TapegradError && error.code === "CORRUPT_FILE") return error.message;
    throw error;
  }
  throw new Error("expected a CORRUPT_FILE error");
}

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const idx = writeIdx({
  dtype: "int16",
  shape: [3, 2],
  data: Int16Array.from([1, -2, 300, -400, 5, 6]),
});

describe("readIdxFile", () => {
  it("reads the same fixture raw and gzipped, whatever the file is called", async () => {
    for (const path of [
      file("a-idx2-int16", idx),
      file("a-idx2-int16.gz", gzipSync(idx)),
      file("no-suffix", gzipSync(idx)),
    ]) {
      const got = await readIdxFile(path);
      expect(got.dtype).toBe("int16");
      expect(got.shape).toEqual([3, 2]);
      expect(Array.from(got.data)).toEqual([1, -2, 300, -400, 5, 6]);
    }
  });

  it("names the file in errors about its contents", async () => {
    const path = file("short", idx.subarray(0, idx.length - 1));
    expect(await corrupt(readIdxFile(path))).toBe(
      `${path}: size mismatch: int16 dimensions [3,2] need 12 data bytes after the 12-byte header, got 11 (truncated)`,
    );
    const magic = file("magic.gz", gzipSync(Uint8Array.from([1, 2, 3, 4, 5])));
    expect(await corrupt(readIdxFile(magic))).toBe(
      `${magic}: bad magic number 01 02 03 04: an IDX file starts with 00 00 <type> <dims>; this is not one`,
    );
  });

  it("rejects a truncated gzip stream", async () => {
    const zipped = gzipSync(idx);
    const path = file("cut.gz", zipped.subarray(0, zipped.length - 12));
    expect(await corrupt(readIdxFile(path))).toMatch(
      /cut\.gz: damaged gzip data \(unexpected end of file\)/,
    );
  });

  it("stops decompressing at the size the header declares", async () => {
    // The header says [3,2] int16 (12 bytes) but 1 MB of zeros follow.
    const bomb = new Uint8Array(idx.length + 1_000_000);
    bomb.set(idx);
    const path = file("bomb.gz", gzipSync(bomb));
    expect(await corrupt(readIdxFile(path))).toBe(
      `${path}: size mismatch: decompresses to more than the 24 bytes its header declares`,
    );
  });

  it("rejects an enormous declared size before decompressing the rest", async () => {
    const header = Uint8Array.from([
      0, 0, 0x08, 3, 0, 0, 0xea, 0x60, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28,
    ]);
    const path = file("huge.gz", gzipSync(Uint8Array.from([...header, 1, 2, 3])));
    expect(await corrupt(readIdxFile(path))).toMatch(
      /huge\.gz: the header declares uint8 dimensions \[60000,4294967295,28\], \d+ bytes of data, more than the 2147483648/,
    );
  });
});
