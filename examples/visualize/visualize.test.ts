import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { decode } from "fast-png";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "@tapegrad/autodiff";
import { writeIdx } from "@tapegrad/data";
import { normalizePlanes, parseCli, visualize, type VisualizeResult } from "./visualize.js";

const dir = mkdtempSync(join(tmpdir(), "visualize-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n 28×28 images: label k = i mod 10 is a bright horizontal bar at rows 2k + 4 and 2k + 5. */
function writeSplit(prefix: "train" | "t10k", n: number): void {
  const pixels = new Uint8Array(n * 784);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  for (let i = 0; i < n; i++) {
    const row = 2 * labels[i]! + 4;
    pixels.fill(200, i * 784 + row * 28 + 4, i * 784 + row * 28 + 24);
    pixels.fill(200, i * 784 + (row + 1) * 28 + 4, i * 784 + (row + 1) * 28 + 24);
  }
  const put = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
  put(
    `${prefix}-images-idx3-ubyte`,
    writeIdx({ dtype: "uint8", shape: [n, 28, 28], data: pixels }),
  );
  put(`${prefix}-labels-idx1-ubyte`, writeIdx({ dtype: "uint8", shape: [n], data: labels }));
}

// imageGrid's layout: gap 2, captions 5 + 2 pixels high under each cell.
const gridSize = (n: number, columns: number, side: number) => {
  const rows = Math.ceil(n / columns);
  return [2 + columns * (side + 2), 2 + rows * (side + 7 + 2)];
};

describe("visualize on a tiny self-made Fashion-MNIST", () => {
  const out = join(dir, "out");
  const lines: string[] = [];
  let result: VisualizeResult;
  beforeAll(async () => {
    writeSplit("train", 40);
    writeSplit("t10k", 10);
    result = await visualize({
      data: dir,
      out,
      limit: 32,
      batchSize: 16,
      image: 3,
      log: (line) => lines.push(line),
    });
  });
  const png = (name: string) => decode(readFileSync(join(out, name)));

  it("trains for limit / batchSize steps and evaluates on the test split", () => {
    expect(result.steps).toBe(2);
    expect(Number.isFinite(result.firstLoss) && Number.isFinite(result.lastLoss)).toBe(true);
    expect(result.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(lines[0]).toBe("training on 32 images, 1 epoch(s) of 2 batches of 16");
    expect(lines.at(-1)).toMatch(/^test image 3: Dress, predicted /);
  });

  it("writes the input, the filters and one grid per conv and pool layer", () => {
    expect(result.files.map((f) => basename(f))).toEqual([
      "input.png",
      "conv1-filters.png",
      "activations-conv1.png",
      "activations-pool1.png",
      "activations-conv2.png",
      "activations-pool2.png",
    ]);
    const size = (name: string) => {
      const { width, height } = png(name);
      return [width, height];
    };
    expect(size("input.png")).toEqual(gridSize(1, 1, 28 * 6));
    expect(size("conv1-filters.png")).toEqual(gridSize(16, 8, 5 * 12));
    expect(size("activations-conv1.png")).toEqual(gridSize(16, 8, 28 * 3));
    expect(size("activations-pool1.png")).toEqual(gridSize(16, 8, 14 * 6));
    expect(size("activations-conv2.png")).toEqual(gridSize(32, 8, 14 * 6));
    expect(size("activations-pool2.png")).toEqual(gridSize(32, 8, 7 * 12));
  });

  it("draws the chosen test image: its bar (label 3, rows 10–11) bright, the rest black", () => {
    const { width, data } = png("input.png");
    const grey = (row: number, col: number) =>
      data[((2 + row * 6 + 3) * width + 2 + col * 6 + 3) * 4];
    expect(grey(10, 14)).toBe(200);
    expect(grey(11, 4)).toBe(200);
    expect(grey(12, 14)).toBe(0);
    expect(grey(10, 2)).toBe(0);
  });

  it("scales each filter to the full 0…255 range", () => {
    const { width, data } = png("conv1-filters.png");
    for (const tile of [0, 9]) {
      const x0 = 2 + (tile % 8) * 62;
      const y0 = 2 + Math.floor(tile / 8) * 69;
      const values = new Set<number>();
      for (let y = 0; y < 60; y++) {
        for (let x = 0; x < 60; x++) values.add(data[((y0 + y) * width + x0 + x) * 4]!);
      }
      expect(Math.min(...values)).toBe(0);
      expect(Math.max(...values)).toBe(255);
      expect(values.size).toBeGreaterThan(10);
    }
  });
});

describe("helpers", () => {
  it("normalizePlanes maps each plane's min to 0 and max to 1; a constant plane to 0", () => {
    const x = tensor([
      [
        [
          [1, 3],
          [5, 2],
        ],
        [
          [7, 7],
          [7, 7],
        ],
      ],
    ]);
    expect(Array.from(normalizePlanes(x).data)).toEqual([0, 0.5, 1, 0.25, 0, 0, 0, 0]);
  });

  it("parses --data, --out and --limit, ignoring pnpm's --", () => {
    expect(parseCli([])).toEqual({ out: "visualize-out", limit: 10000 });
    expect(parseCli(["--", "--data", "d", "--out", "o", "--limit", "5"])).toEqual({
      data: "d",
      out: "o",
      limit: 5,
    });
    expect(() => parseCli(["--limit", "0"])).toThrow(/--limit must be a positive integer/);
    expect(() => parseCli(["--bogus"])).toThrow();
  });
});
