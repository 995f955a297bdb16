import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { decode } from "fast-png";
import { afterAll, expect, it } from "vitest";
import { writeIdx } from "@tapegrad/data";
import { writeFashionGrid } from "./grid.js";

const dir = mkdtempSync(join(tmpdir(), "data-grid-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("writes a 64-image grid from (self-made) Fashion-MNIST files", async () => {
  // 70 images whose pixels all equal their index; labels index mod 10.
  const n = 70;
  const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => Math.floor(i / 784));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const put = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
  put("train-images-idx3-ubyte", writeIdx({ dtype: "uint8", shape: [n, 28, 28], data: pixels }));
  put("train-labels-idx1-ubyte", writeIdx({ dtype: "uint8", shape: [n], data: labels }));

  const path = await writeFashionGrid(join(dir, "grid.png"), dir);
  const png = decode(readFileSync(path));
  expect([png.width, png.height]).toEqual([2 + 8 * 58, 2 + 8 * 65]);
  // Image 63 (row 7, column 7) is uniformly 63.
  const at = ((2 + 7 * 65 + 20) * png.width + 2 + 7 * 58 + 20) * 4;
  expect(Array.from(png.data.subarray(at, at + 4))).toEqual([63, 63, 63, 255]);
});
