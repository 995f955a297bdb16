import { kernels } from "../backends/backend.js";
import { argumentError, dtypeError, show, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { assertSizeWithinLimit, shapeSize } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { produce } from "./util.js";

// slice and pad are each other's gradient (the box of dy where x sat; dy put back in a box of
// zeros), so they share this module.

interface SliceAttrs {
  readonly begin: readonly number[];
  readonly end?: readonly number[];
}

/** Where a slice starts on each axis and how long it is, after resolving negatives and defaults. */
interface ResolvedSlice {
  readonly start: number[];
  readonly size: number[];
}

function checkBounds(shape: readonly number[], name: string, bounds: readonly number[]): void {
  if (!Array.isArray(bounds)) throw argumentError("slice", `${name} must be an array of integers`);
  if (bounds.length > shape.length) {
    throw argumentError(
      "slice",
      `${name} has ${bounds.length} entries but x has rank ${shape.length} ` +
        `(shape ${showShape(shape)})`,
    );
  }
  bounds.forEach((b, i) => {
    if (!Number.isInteger(b)) {
      throw argumentError("slice", `${name}[${i}] must be an integer, got ${show(b)}`);
    }
  });
}

/**
 * NumPy's x[b0:e0, b1:e1, …] without steps. A begin outside −size…size is an error (it is
 * almost always a bug); an end is clamped to 0…size as Python does, and end ≤ begin is empty.
 */
function resolveSlice(
  shape: readonly number[],
  begin: readonly number[],
  end?: readonly number[],
): ResolvedSlice {
  checkBounds(shape, "begin", begin);
  if (end !== undefined) checkBounds(shape, "end", end);
  const start: number[] = [];
  const size: number[] = [];
  shape.forEach((d, axis) => {
    let b = begin[axis] ?? 0;
    if (b < -d || b > d) {
      throw argumentError(
        "slice",
        `begin[${axis}] = ${b} is out of range for axis ${axis} of size ${d} ` +
          `(expected ${-d} ≤ begin ≤ ${d}; x has shape ${showShape(shape)})`,
      );
    }
    if (b < 0) b += d;
    let e = end?.[axis] ?? d;
    if (e < 0) e += d;
    e = Math.min(Math.max(e, 0), d);
    start.push(b);
    size.push(Math.max(e - b, 0));
  });
  return { start, size };
}

/** `values` with `value` inserted at `axis`: a slice's bounds with the batch axis' own. */
function withBatch<T>(values: readonly T[], axis: number, value: T): T[] {
  return [...values.slice(0, axis), value, ...values.slice(axis)];
}

/**
 * Where the box lies in x's elements when they are one run (every axis after the first partial
 * one whole, every axis before it of size 1, and the box not empty), else null.
 */
function contiguousOffset(
  shape: readonly number[],
  start: readonly number[],
  size: readonly number[],
): number | null {
  let partial = shape.length - 1;
  while (partial >= 0 && size[partial] === shape[partial]) partial--;
  if (size.some((d) => d === 0)) return null;
  for (let axis = 0; axis < partial; axis++) if (size[axis] !== 1) return null;
  let offset = 0;
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    offset += start[axis]! * stride;
    stride *= shape[axis]!;
  }
  return offset;
}

const sliceOp = defineOp({
  name: "slice",
  inputs: ["x"],
  forward: ([x], { begin, end }: SliceAttrs) => {
    const { start, size } = resolveSlice(x.shape, begin, end);
    if (size.every((d, i) => d === x.shape[i])) return x;
    const offset = contiguousOffset(x.shape, start, size);
    if (offset !== null) {
      // One run of x's elements: share them (tensors are immutable) instead of copying.
      return new Tensor(x.buffer.subarray(offset, offset + shapeSize(size)), size);
    }
    return produce(x.dtype, size, (out) => kernels().slice(x.buffer, x.shape, start, out, size));
  },
  vjp: ({ dy, inputs: [x], attrs: { begin, end } }) => {
    // dy fills the sliced box of x's shape; everything the slice dropped gets zero.
    const { start, size } = resolveSlice(x.shape, begin, end);
    return [
      pad(
        dy,
        start.map((b, i) => [b, x.shape[i]! - b - size[i]!] as const),
      ),
    ];
  },
  // The batch axis keeps its place and is taken whole; the slice's bounds are resolved first.
  batch: ({ inputs: [x], axes: [b], attrs: { begin, end } }): BatchResult<SingleOutput> => {
    const sliceShape = x.shape.filter((_, i) => i !== b);
    const { start, size } = resolveSlice(sliceShape, begin, end);
    const stop = start.map((s, i) => s + size[i]!);
    return { y: slice(x, withBatch(start, b!, 0), withBatch(stop, b!, x.shape[b!]!)), axes: [b!] };
  },
  samples: (kit) =>
    kit.anyTensor({ minRank: 1 }).chain((x) => {
      const { fc } = kit;
      const bound = (d: number, slack: number) => fc.integer({ min: -d - slack, max: d + slack });
      const axes = x.shape.length;
      return fc
        .tuple(
          fc.tuple(...x.shape.map((d) => bound(d, 0))),
          fc.tuple(...x.shape.map((d) => bound(d, 2))),
          fc.nat({ max: axes }),
          fc.nat({ max: axes }),
        )
        .map(([begin, end, nBegin, nEnd]) => ({
          inputs: [x],
          attrs: { begin: begin.slice(0, nBegin), end: end.slice(0, nEnd) },
        }));
    }),
});

/**
 * x[begin[0]:end[0], begin[1]:end[1], …] (NumPy slicing, no steps). Missing trailing entries
 * take whole axes; negatives count from the end; ends clamp like Python. A slice whose elements
 * are one run of x's (rows of a batch, a prefix of a vector) shares x's memory instead of
 * copying it, as NumPy's basic slicing does, and so keeps all of x alive while it lives.
 * Gradient: dy padded with zeros back to x's shape.
 */
export function slice(x: TensorLike, begin: readonly number[], end?: readonly number[]): Tensor {
  return sliceOp(x, { begin, end });
}

/** How many elements to add before and after one axis. */
export type Padding = readonly [before: number, after: number];

interface PadAttrs {
  readonly paddings: readonly Padding[];
  readonly value?: number;
}

/** One [before, after] pair per axis of `shape`; axes past the given pairs get [0, 0]. */
function resolvePaddings(shape: readonly number[], paddings: readonly Padding[]): Padding[] {
  if (!Array.isArray(paddings)) {
    throw argumentError("pad", "paddings must be an array of [before, after] pairs");
  }
  if (paddings.length > shape.length) {
    throw argumentError(
      "pad",
      `got ${paddings.length} [before, after] pairs for x of rank ${shape.length} ` +
        `(shape ${showShape(shape)}); give at most one per axis`,
    );
  }
  const isCount = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 0;
  return shape.map((_, axis) => {
    const pair = paddings[axis];
    if (pair === undefined) return [0, 0];
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every(isCount)) {
      throw argumentError(
        "pad",
        `paddings[${axis}] must be a pair of non-negative integers [before, after], ` +
          `got ${show(pair)}`,
      );
    }
    return [pair[0], pair[1]];
  });
}

const padOp = defineOp({
  name: "pad",
  inputs: ["x"],
  forward: ([x], { paddings, value = 0 }: PadAttrs) => {
    const pairs = resolvePaddings(x.shape, paddings);
    if (typeof value !== "number") {
      throw argumentError("pad", `value must be a number, got ${typeof value}`);
    }
    // An int32 buffer would silently truncate a fractional fill value.
    if (x.dtype === "int32" && !Number.isInteger(value)) {
      throw dtypeError("pad", `value ${value} cannot be stored in x of dtype int32`);
    }
    if (pairs.every(([b, a]) => b === 0 && a === 0)) return x;
    const shape = x.shape.map((d, i) => d + pairs[i]![0] + pairs[i]![1]);
    assertSizeWithinLimit("pad", shape);
    const before = pairs.map(([b]) => b);
    return produce(x.dtype, shape, (out) =>
      kernels().pad(x.buffer, x.shape, before, value, out, shape),
    );
  },
  // The padding is constant, so x's gradient is dy's interior; `value` (an attr) gets none.
  vjp: ({ dy, inputs: [x], attrs: { paddings } }) => {
    const before = resolvePaddings(x.shape, paddings).map(([b]) => b);
    return [
      slice(
        dy,
        before,
        before.map((b, i) => b + x.shape[i]!),
      ),
    ];
  },
  batch: ({ inputs: [x], axes: [b], attrs: { paddings, value } }): BatchResult<SingleOutput> => {
    const sliceShape = x.shape.filter((_, i) => i !== b);
    const pairs = resolvePaddings(sliceShape, paddings);
    return { y: pad(x, withBatch<Padding>(pairs, b!, [0, 0]), value), axes: [b!] };
  },
  samples: (kit) =>
    kit.anyTensor().chain((x) => {
      const { fc } = kit;
      const pair = fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 }));
      return fc
        .tuple(fc.array(pair, { maxLength: x.ndim }), fc.double({ min: -2, max: 2, noNaN: true }))
        .map(([paddings, value]) => ({ inputs: [x], attrs: { paddings, value } }));
    }),
});

/**
 * x with `paddings[i] = [before, after]` elements of `value` added around axis i (missing
 * trailing pairs mean [0, 0]). Gradient: the slice of dy where x sits; none for `value`.
 */
export function pad(x: TensorLike, paddings: readonly Padding[], value = 0): Tensor {
  return padOp(x, { paddings, value });
}
