import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { writeIdx } from "../src/formats/idx.js";

/** A fresh empty directory under the system temp directory. */
export function tempDir(prefix = "tapegrad-data-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Pixel (y, x) of fixture image i: distinct per image, covering 0…255. */
export function fixturePixel(i: number, y: number, x: number): number {
  return (i * 37 + y * 7 + x * 3) % 256;
}

/**
 * Writes a tiny MNIST-layout dataset into `dir`: n uint8 images [n,h,w] with fixturePixel values
 * and labels i mod 10, for the train and test file names; gzipped when `gzip`.
 */
export function writeMnistFixture(dir: string, n: number, { gzip = true, h = 28, w = 28 } = {}) {
  const pixels = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) pixels[(i * h + y) * w + x] = fixturePixel(i, y, x);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const files = {
    "train-images-idx3-ubyte": writeIdx({ dtype: "uint8", shape: [n, h, w], data: pixels }),
    "train-labels-idx1-ubyte": writeIdx({ dtype: "uint8", shape: [n], data: labels }),
    "t10k-images-idx3-ubyte": writeIdx({ dtype: "uint8", shape: [n, h, w], data: pixels }),
    "t10k-labels-idx1-ubyte": writeIdx({ dtype: "uint8", shape: [n], data: labels }),
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (gzip) writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
    else writeFileSync(join(dir, name), bytes);
  }
}
