import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decode } from "fast-png";
import { afterAll, describe, expect, it } from "vitest";
import { prng } from "@tapegrad/autodiff";
import { saveImageGrid } from "../src/node/saveImageGrid.js";
import { tempDir } from "./fixtures.js";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("saveImageGrid", () => {
  it("writes 64 labelled 28×28 images as a valid PNG", async () => {
    const images = prng(0).uniform([64, 1, 28, 28]);
    const labels = prng(1).randint(0, 10, [64]);
    const path = join(dir, "grid.png");
    await saveImageGrid(path, images, { labels, columns: 8, scale: 2 });
    const png = decode(readFileSync(path));
    // 8 cells of 56 + 2 px across; 8 rows of 56 + 7 (caption) + 2 px down; plus the outer gap.
    expect([png.width, png.height, png.channels]).toEqual([2 + 8 * 58, 2 + 8 * 65, 4]);
    // Image 9 (row 1, column 1), pixel (5, 7), drawn at (2 + 58 + 14, 2 + 65 + 10).
    const v = Math.round(255 * images.data[9 * 784 + 5 * 28 + 7]!);
    const at = ((2 + 65 + 10) * png.width + 2 + 58 + 14) * 4;
    expect(Array.from(png.data.subarray(at, at + 4))).toEqual([v, v, v, 255]);
  });
});
