import { decode } from "fast-png";
import { describe, expect, it } from "vitest";
import { tensor } from "@tapegrad/autodiff";
import { imageGrid, imageGridPng } from "./imageGrid.js";

// Five 1×4×3 images; image s has pixel (y, x) = (s + 1)·(y·3 + x + 1) / 60, all in (0, 1].
const values = new Float32Array(5 * 12);
for (let s = 0; s < 5; s++)
  for (let i = 0; i < 12; i++) values[s * 12 + i] = ((s + 1) * (i + 1)) / 60;
const images = tensor(values, { shape: [5, 1, 4, 3] });

describe("imageGrid", () => {
  const options = { columns: 2, scale: 2, gap: 2, labels: [1, 0, 2, 3, 4] };

  it("encodes a PNG of the grid's size that decodes to the same pixels", () => {
    const png = decode(imageGridPng(images, options));
    // Cells are 6 wide and 8 + 7 (caption) tall, with 2-pixel gaps: 2 + 2·8 by 2 + 3·17.
    expect([png.width, png.height, png.channels, png.depth]).toEqual([18, 53, 4, 8]);
    const grid = imageGrid(images, options);
    expect(Array.from(png.data)).toEqual(Array.from(grid.data));
  });

  it("puts image s, pixel (y, x) at its cell, scaled, and captions it", () => {
    const { width, data } = imageGrid(images, options);
    const at = (x: number, y: number) =>
      Array.from(data.subarray((y * width + x) * 4, (y * width + x) * 4 + 4));
    expect(at(0, 0)).toEqual([40, 40, 40, 255]);
    // Image 3 sits in row 1, column 1: its top-left corner is (2 + 8, 2 + 17).
    for (const [y, x] of [
      [0, 0],
      [3, 2],
      [1, 2],
    ] as const) {
      const v = Math.round((255 * 4 * (y * 3 + x + 1)) / 60);
      expect(at(10 + 2 * x, 19 + 2 * y)).toEqual([v, v, v, 255]);
      expect(at(10 + 2 * x + 1, 19 + 2 * y + 1)).toEqual([v, v, v, 255]);
    }
    // Image 0's caption "1": the glyph's top row is .#., drawn one pixel below the image.
    expect(at(2 + 1, 2 + 8 + 1)).toEqual([235, 235, 235, 255]);
    expect(at(2 + 0, 2 + 8 + 1)).toEqual([40, 40, 40, 255]);
  });

  it("writes class names, clamps to the range, and checks its input", () => {
    const small = imageGrid(tensor([[[[-1, 2]]]]), { labels: [0], classNames: ["BAG"], scale: 6 });
    // Two image pixels, each 6 wide: black (clamped −1) then white (clamped 2).
    expect(small.data[(2 * small.width + 2) * 4]).toBe(0);
    expect(small.data[(2 * small.width + 8) * 4]).toBe(255);
    // "B" starts with ## on its top row, at the caption's first column.
    const captionTop = 2 + 6 + 1;
    expect(small.data[(captionTop * small.width + 2) * 4]).toBe(235);
    expect(() => imageGrid(tensor([[1, 2]]))).toThrow(
      /expected images \[N,1,H,W\] or \[N,3,H,W\], got shape \[1,2\]/,
    );
    expect(() => imageGrid(images, { labels: [1] })).toThrow(/got 1 labels for 5 images/);
  });

  it("draws RGB images channel by channel", () => {
    const rgb = tensor([[[[1]], [[0.5]], [[0]]]]); // [1,3,1,1]: orange-ish
    const { data, width } = imageGrid(rgb, { scale: 1, gap: 1 });
    expect(Array.from(data.subarray((1 * width + 1) * 4, (1 * width + 1) * 4 + 4))).toEqual([
      255, 128, 0, 255,
    ]);
  });
});
