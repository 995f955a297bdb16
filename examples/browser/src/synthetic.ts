// The fallback dataset when the Fashion-MNIST files are absent at build time: 28×28 grey images
// of ten classes of simple strokes (bars, diagonals, a ring, a cross, …), each drawn with random
// position, thickness, brightness and noise, so that a CNN has something real to learn.
import type { IdxData } from "@tapegrad/data";

export const SYNTHETIC_CLASSES: readonly string[] = [
  "horizontal bar",
  "vertical bar",
  "diagonal \\",
  "diagonal /",
  "ring",
  "cross",
  "square",
  "dot",
  "two bars",
  "corner",
];

/** A small deterministic generator (mulberry32), so the fallback data is the same every build. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZE = 28;

/** Whether pixel (x, y) is ink for `label`, the shape centred at (cx, cy) with half-width w. */
function ink(label: number, x: number, y: number, cx: number, cy: number, w: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  const r = 8;
  switch (label) {
    case 0:
      return Math.abs(dy) <= w && Math.abs(dx) <= r;
    case 1:
      return Math.abs(dx) <= w && Math.abs(dy) <= r;
    case 2:
      return Math.abs(dx - dy) <= w && Math.abs(dx) <= r;
    case 3:
      return Math.abs(dx + dy) <= w && Math.abs(dx) <= r;
    case 4:
      return Math.abs(Math.hypot(dx, dy) - 6) <= w;
    case 5:
      return (Math.abs(dx) <= w || Math.abs(dy) <= w) && Math.abs(dx) <= r && Math.abs(dy) <= r;
    case 6:
      return (
        Math.max(Math.abs(dx), Math.abs(dy)) <= 6 && Math.max(Math.abs(dx), Math.abs(dy)) >= 6 - w
      );
    case 7:
      return Math.hypot(dx, dy) <= 2 + w;
    case 8:
      return (Math.abs(dy - 4) <= w || Math.abs(dy + 4) <= w) && Math.abs(dx) <= r;
    default:
      return (
        (Math.abs(dx + 5) <= w && dy >= -5 && dy <= 6) ||
        (Math.abs(dy - 6) <= w && dx >= -5 && dx <= 6)
      );
  }
}

/** `count` labelled images (uint8 [count, 28, 28] and labels [count]), cycling through classes. */
export function synthesize(count: number, seed: number): { images: IdxData; labels: IdxData } {
  const next = random(seed);
  const images = new Uint8Array(count * SIZE * SIZE);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const label = Math.floor(next() * 10);
    labels[n] = label;
    const cx = 14 + (next() - 0.5) * 6;
    const cy = 14 + (next() - 0.5) * 6;
    const w = 0.8 + next() * 1.2;
    const brightness = 150 + next() * 105;
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const noise = next() * 40;
        const v = ink(label, x, y, cx, cy, w) ? brightness - noise : noise;
        images[(n * SIZE + y) * SIZE + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return {
    images: { dtype: "uint8", shape: [count, SIZE, SIZE], data: images },
    labels: { dtype: "uint8", shape: [count], data: labels },
  };
}
