import type { Rng, Tensor, TypedArray } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import { allocateLike, fromData, imageLayout, type ImageLayout } from "./image.js";
import type { Transform } from "./transform.js";

/** A uniform integer in [0, n] (inclusive). */
function upTo(rng: Rng, n: number): number {
  return Math.floor(rng.nextDouble() * (n + 1));
}

function nonNegativeInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw argumentError(op, `${name} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/**
 * Copies sample s of `src` (layout `from`) into the oh×ow sample s of `out`, where output pixel
 * (y, x) reads source pixel (y + dy, x + dx); pixels reading outside the image are left as they
 * are in `out` (the caller pre-fills it with the padding value).
 */
function shiftedCopy(
  src: TypedArray,
  from: ImageLayout,
  out: TypedArray,
  oh: number,
  ow: number,
  s: number,
  dy: number,
  dx: number,
): void {
  const { c, h, w } = from;
  // Output rows y0 ≤ y < y1 and columns x0 ≤ x < x1 read inside the source image.
  const y0 = Math.max(0, -dy);
  const y1 = Math.min(oh, h - dy);
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(ow, w - dx);
  if (x1 <= x0) return;
  for (let k = 0; k < c; k++) {
    const srcPlane = (s * c + k) * h * w;
    const outPlane = (s * c + k) * oh * ow;
    for (let y = y0; y < y1; y++) {
      // A plain loop: image rows are short, and subarray() would allocate a view per row.
      const from0 = srcPlane + (y + dy) * w + dx;
      const to = outPlane + y * ow;
      for (let x = x0; x < x1; x++) out[to + x] = src[from0 + x]!;
    }
  }
}

/** Options of randomCrop: padding added before cropping, and its value. */
export interface RandomCropOptions {
  /** Pixels of `fill` added on every side before cropping (default 0). */
  readonly padding?: number;
  /** Value of the padding pixels (default 0). */
  readonly fill?: number;
}

/**
 * Pads each image by `padding` on every side, then cuts a size×size (or [h, w]) window at an
 * offset drawn uniformly per sample: top from 0…H+2p−h, then left from 0…W+2p−w.
 */
export function randomCrop(
  size: number | readonly [number, number],
  options: RandomCropOptions = {},
): Transform {
  const [oh, ow] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) {
    throw argumentError("randomCrop", `size must be positive integers, got ${oh}×${ow}`);
  }
  const padding = nonNegativeInt("randomCrop", "padding", options.padding ?? 0);
  const fill = options.fill ?? 0;
  return (x, rng) => {
    const layout = imageLayout("randomCrop", x);
    const { n, c, h, w } = layout;
    if (oh > h + 2 * padding || ow > w + 2 * padding) {
      throw argumentError(
        "randomCrop",
        `crop ${oh}×${ow} is larger than the padded image ${h + 2 * padding}×${w + 2 * padding}`,
      );
    }
    const src = x.data;
    const out = allocateLike(src, n * c * oh * ow);
    if (fill !== 0) out.fill(fill);
    for (let s = 0; s < n; s++) {
      const top = upTo(rng, h + 2 * padding - oh);
      const left = upTo(rng, w + 2 * padding - ow);
      shiftedCopy(src, layout, out, oh, ow, s, top - padding, left - padding);
    }
    const shape = x.ndim === 3 ? [c, oh, ow] : [n, c, oh, ow];
    return fromData(out, shape);
  };
}

/**
 * Shifts each image by (dy, dx), both drawn uniformly per sample from −maxShift…maxShift, filling
 * the uncovered border with 0. Same size out; the same as randomCrop(H, { padding: maxShift }).
 */
export function randomTranslate(maxShift: number): Transform {
  const m = nonNegativeInt("randomTranslate", "maxShift", maxShift);
  return (x, rng) => {
    const layout = imageLayout("randomTranslate", x);
    const { n, h, w } = layout;
    const src = x.data;
    const out = allocateLike(src, x.size);
    for (let s = 0; s < n; s++) {
      const dy = upTo(rng, 2 * m) - m;
      const dx = upTo(rng, 2 * m) - m;
      // Moving the content by (dy, dx) means output pixel (y, x) reads (y − dy, x − dx).
      shiftedCopy(src, layout, out, h, w, s, -dy, -dx);
    }
    return fromData(out, x.shape);
  };
}

/** Mirrors each image left–right (x → W−1−x) with probability p, decided per sample. */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) {
    throw argumentError("randomHorizontalFlip", `p must lie in [0, 1], got ${p}`);
  }
  return (x, rng) => {
    const { n, c, h, w } = imageLayout("randomHorizontalFlip", x);
    const src = x.data;
    const out = allocateLike(src, x.size);
    const sample = c * h * w;
    for (let s = 0; s < n; s++) {
      const start = s * sample;
      if (rng.nextDouble() >= p) {
        out.set(src.subarray(start, start + sample), start);
        continue;
      }
      for (let row = start; row < start + sample; row += w) {
        for (let i = 0; i < w; i++) out[row + i] = src[row + w - 1 - i]!;
      }
    }
    return fromData(out, x.shape);
  };
}
