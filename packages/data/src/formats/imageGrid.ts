import { encode } from "fast-png";
import { Tensor } from "@tapegrad/autodiff";
import { argumentError, shapeError, showShape } from "../errors.js";
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyphInk } from "./font.js";

/** Layout and captions of imageGrid and imageGridPng. */
export interface ImageGridOptions {
  /** One label per image, drawn under it (class names when `classNames` is given). */
  readonly labels?: Tensor | ArrayLike<number>;
  /** Names to caption label i with (e.g. FASHION_MNIST_CLASSES); default: the number. */
  readonly classNames?: readonly string[];
  /** Images per row (default ceil(√N)). */
  readonly columns?: number;
  /** Each image pixel becomes scale×scale screen pixels (default 2). */
  readonly scale?: number;
  /** Values mapped to black and white; others are clamped (default [0, 1]). */
  readonly range?: readonly [number, number];
  /** Background pixels between cells (default 2). */
  readonly gap?: number;
}

/** An 8-bit RGBA picture, rows top to bottom: data[(y·width + x)·4 + k] for k = R, G, B, A. */
export interface RgbaImage {
  /** Pixels per row. */
  readonly width: number;
  /** Rows. */
  readonly height: number;
  /** width·height·4 bytes, RGBA, rows top to bottom. */
  readonly data: Uint8Array;
}

const BACKGROUND = 40;
const INK = 235;

/**
 * Lays out images [N,1|3,H,W] row-major in a grid of `columns`, each cell H·scale × W·scale with
 * an optional caption strip of 3×5-pixel text below; a value v maps to 255·(v − lo)/(hi − lo).
 */
export function imageGrid(images: Tensor, options: ImageGridOptions = {}): RgbaImage {
  if (images.ndim !== 4 || (images.shape[1] !== 1 && images.shape[1] !== 3)) {
    throw shapeError(
      "imageGrid",
      `expected images [N,1,H,W] or [N,3,H,W], got shape ${showShape(images.shape)}`,
    );
  }
  const [n, c, h, w] = [images.shape[0]!, images.shape[1]!, images.shape[2]!, images.shape[3]!];
  const { labels, classNames, scale = 2, gap = 2, range = [0, 1] } = options;
  const columns = options.columns ?? Math.max(1, Math.ceil(Math.sqrt(n)));
  for (const [name, v, min] of [
    ["columns", columns, 1],
    ["scale", scale, 1],
    ["gap", gap, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) {
      throw argumentError("imageGrid", `${name} must be an integer ≥ ${min}, got ${v}`);
    }
  }
  const labelValues = labels instanceof Tensor ? labels.data : labels;
  if (labelValues !== undefined && labelValues.length !== n) {
    throw argumentError("imageGrid", `got ${labelValues.length} labels for ${n} images`);
  }
  const [lo, hi] = range;
  if (!(hi > lo)) throw argumentError("imageGrid", `range must have lo < hi, got [${lo}, ${hi}]`);

  const cellW = w * scale;
  const captionH = labelValues === undefined ? 0 : GLYPH_HEIGHT + 2;
  const cellH = h * scale + captionH;
  const rows = Math.ceil(n / columns);
  const width = gap + columns * (cellW + gap);
  const height = gap + Math.max(rows, 1) * (cellH + gap);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data.fill(BACKGROUND, i, i + 3);
    data[i + 3] = 255;
  }
  const put = (x: number, y: number, r: number, g: number, b: number) => {
    const at = (y * width + x) * 4;
    data[at] = r;
    data[at + 1] = g;
    data[at + 2] = b;
  };
  const toByte = (v: number) => Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo))));

  const pixels = images.data;
  const plane = h * w;
  for (let s = 0; s < n; s++) {
    const x0 = gap + (s % columns) * (cellW + gap);
    const y0 = gap + Math.floor(s / columns) * (cellH + gap);
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < cellW; x++) {
        const at = s * c * plane + Math.floor(y / scale) * w + Math.floor(x / scale);
        const r = toByte(pixels[at]!);
        if (c === 1) put(x0 + x, y0 + y, r, r, r);
        else put(x0 + x, y0 + y, r, toByte(pixels[at + plane]!), toByte(pixels[at + 2 * plane]!));
      }
    }
    if (labelValues === undefined) continue;
    const label = labelValues[s]!;
    const text = classNames?.[label] ?? String(label);
    // As many characters as fit in the cell; the last one needs no trailing space.
    const fit = Math.floor((cellW + 1) / GLYPH_ADVANCE);
    [...text.slice(0, fit)].forEach((char, k) => {
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (glyphInk(char, row, col))
            put(x0 + k * GLYPH_ADVANCE + col, y0 + h * scale + 1 + row, INK, INK, INK);
        }
      }
    });
  }
  return { width, height, data };
}

/** The grid of `imageGrid` as PNG file bytes (8-bit RGBA), encoded by fast-png. */
export function imageGridPng(images: Tensor, options: ImageGridOptions = {}): Uint8Array {
  const { width, height, data } = imageGrid(images, options);
  return encode({ width, height, data, channels: 4, depth: 8 });
}
