import { MAX_TENSOR_SIZE } from "./dtype.js";
import { argumentError, shapeError, show, showShape } from "./errors.js";

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Requires an array of non-negative safe integers whose product is at most MAX_TENSOR_SIZE. */
export function assertValidShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) {
    throw argumentError(op, `shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw argumentError(op, `shape must hold non-negative integers, got ${showShape(shape)}`);
    }
  }
  assertSizeWithinLimit(op, shape);
}

/** Rejects a result shape of more than MAX_TENSOR_SIZE elements, before any allocation. */
export function assertSizeWithinLimit(op: string, shape: Shape): void {
  const size = shapeSize(shape);
  // An axis past 2^53 cannot even be counted exactly, whatever the other axes (0 included).
  if (!(size <= MAX_TENSOR_SIZE) || !shape.every((d) => Number.isSafeInteger(d))) {
    throw argumentError(
      op,
      `the result would have shape ${showShape(shape)}, ${size} elements: a tensor holds at ` +
        `most ${MAX_TENSOR_SIZE} elements, and each size must be below 2^53`,
    );
  }
}

/** NumPy broadcasting: align from the right; each pair of sizes must be equal or contain a 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    const offset = rank - shape.length;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i]!;
      const o = out[offset + i]!;
      if (o === 1) out[offset + i] = d;
      else if (d !== 1 && d !== o) {
        throw shapeError(
          op,
          `shapes ${shapes.map(showShape).join(" and ")} cannot be broadcast together`,
        );
      }
    }
  }
  return out;
}

/** Resolves a possibly negative axis against `rank`, naming the op on failure. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw argumentError(op, `axis ${show(axis)} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Resolves `axis` (undefined = all axes) to a sorted list of distinct non-negative axes. */
export function normalizeAxes(
  op: string,
  axis: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axis !== "number" && !Array.isArray(axis)) {
    throw argumentError(op, `axis must be an integer or an array of integers, got ${show(axis)}`);
  }
  const list = typeof axis === "number" ? [axis] : [...axis];
  const axes = list.map((a) => normalizeAxis(op, a, rank)).sort((a, b) => a - b);
  for (let i = 1; i < axes.length; i++) {
    if (axes[i] === axes[i - 1])
      throw argumentError(op, `axis ${axes[i]} is repeated in [${list.join(",")}]`);
  }
  return axes;
}
