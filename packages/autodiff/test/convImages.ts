import type { Tensor } from "../src/index.js";
import { f64 } from "./helpers.js";

/** One sample, one channel: [[…]] → [1, 1, H, W] float64. */
export const image = (rows: number[][]) => f64([[rows]]);

/** The single H×W plane of a [1, 1, H, W] result. */
export const plane = (y: Tensor) => (y.toArray() as number[][][][])[0]![0];

// The inputs of docs/cnn-backward.md's worked examples (single channel).
export const x3 = image([
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
]);
export const w2 = image([
  [0, 1],
  [2, 3],
]);
export const x4 = image([
  [1, 2, 3, 4],
  [5, 9, 6, 7],
  [9, 0, 3, 2],
  [1, 2, 3, 4],
]);
export const w4 = image([
  [1, 2],
  [3, 4],
]);
