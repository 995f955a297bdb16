import { tensor, type Tensor, type TypedArray } from "@tapegrad/autodiff";
import { shapeError, showShape } from "../errors.js";

/** x as n samples of c×h×w in row-major NCHW order; an image [C,H,W] is a batch of one. */
export interface ImageLayout {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

export function imageLayout(op: string, x: Tensor): ImageLayout {
  const s = x.shape;
  if (s.length === 3) return { n: 1, c: s[0]!, h: s[1]!, w: s[2]! };
  if (s.length === 4) return { n: s[0]!, c: s[1]!, h: s[2]!, w: s[3]! };
  throw shapeError(op, `expected an image [C,H,W] or a batch [N,C,H,W], got shape ${showShape(s)}`);
}

/** A zero-filled array of the same element type as `like`. */
export function allocateLike(like: TypedArray, size: number): TypedArray {
  if (like instanceof Float64Array) return new Float64Array(size);
  if (like instanceof Int32Array) return new Int32Array(size);
  return new Float32Array(size);
}

/** Wraps transform output, a fresh array nothing else holds, as a tensor of `shape`. */
export function fromData(data: TypedArray, shape: readonly number[]): Tensor {
  return tensor(data, { shape, copy: false });
}
