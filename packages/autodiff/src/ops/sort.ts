import { allocate } from "../dtype.js";
import { argumentError, dtypeError, shapeError, show, showIndex, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { assertValidShape, normalizeAxis, shapeSize, type Shape } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { batchAt } from "./batching.js";
import { reshape } from "./reshape.js";
import { batchFirst } from "./transpose.js";
import { booleanAttr, optionsArgument, produce } from "./util.js";

// Sorting along an axis, and the two index ops its gradient needs: takeAlongAxis reads x at
// indices along an axis, scatterAddAlongAxis adds values back at them. Each is the other's
// transpose, so they are each other's vjp, and the gradient of sorted values is dy scattered
// back to where the values came from.

/** shape viewed as [outer, n, inner] around `axis`: lines of n elements, `inner` apart. */
function around(shape: Shape, axis: number) {
  return {
    outer: shapeSize(shape.slice(0, axis)),
    n: shape[axis]!,
    inner: shapeSize(shape.slice(axis + 1)),
  };
}

/** An axis of a tensor of rank `rank`; a scalar is a line of one, along axis 0 or −1. */
function lineAxis(op: string, axis: unknown, rank: number): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw argumentError(op, `axis must be an integer, got ${show(axis)}`);
  }
  return normalizeAxis(op, axis, Math.max(rank, 1));
}

/** PyTorch's order: NaN after every number (before, descending); −0 and 0 tie. */
function ascending(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  const nanA = a !== a;
  const nanB = b !== b;
  if (nanA === nanB) return 0;
  return nanA ? 1 : -1;
}

/**
 * The first k positions of each line of x along `axis` in sorted order, ties in their original
 * order (a stable sort), as [values, int32 indices] with k along the axis; `sorted` false keeps
 * the k chosen in their original order instead.
 */
function sortLines(
  x: Tensor,
  axis: number,
  descending: boolean,
  k: number,
  sorted: boolean,
): [Tensor, Tensor] {
  const shape = x.ndim === 0 ? [1] : x.shape;
  const { outer, n, inner } = around(shape, axis);
  const outShape = x.ndim === 0 ? [] : shape.map((d, i) => (i === axis ? k : d));
  const data = x.buffer;
  const values = allocate(x.dtype, outer * k * inner);
  const indices = allocate("int32", outer * k * inner);
  const order = new Array<number>(n);
  const sign = descending ? -1 : 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let j = 0; j < n; j++) order[j] = j;
      // Ties fall back on the position, which makes the sort stable whatever the engine's.
      order.sort(
        (p, q) => sign * ascending(data[base + p * inner]!, data[base + q * inner]!) || p - q,
      );
      const chosen = order.slice(0, k);
      if (!sorted) chosen.sort((p, q) => p - q);
      chosen.forEach((p, j) => {
        const at = (o * k + j) * inner + i;
        values[at] = data[base + p * inner]!;
        indices[at] = p;
      });
    }
  }
  return [new Tensor(values, outShape), new Tensor(indices, outShape)];
}

type SortResult = BatchResult<readonly ["values", "indices"]>;

/**
 * The rule of sort and topk: the batch axis in front and the sorted axis past it; scalar slices
 * become lines of one and come back as scalars.
 */
function sortBatch(
  op: string,
  x: Tensor,
  b: number,
  axis: unknown,
  apply: (x: Tensor, axis: number) => readonly [Tensor, Tensor],
): SortResult {
  const front = batchFirst(x, b);
  const rank = front.ndim - 1;
  const along = lineAxis(op, axis, rank);
  if (rank > 0) return { y: apply(front, along + 1), axes: [0, 0] };
  const size = front.shape[0]!;
  const [values, indices] = apply(reshape(front, [size, 1]), 1);
  return { y: [reshape(values, [size]), reshape(indices, [size])], axes: [0, 0] };
}

/** dy of the sorted values, back at the positions they came from (a scalar's is dy). */
function scatterBack(dy: Tensor, indices: Tensor, x: Tensor, axis: number): Tensor {
  if (x.ndim === 0) return reshape(dy, []);
  return scatterAddAlongAxisOp(dy, indices, { axis, shape: x.shape });
}

/** Distinct values (a tie would make the sorted order, and the gradient, jump), any axis. */
function lineSamples(kit: SampleKit, minRank: number) {
  const { fc } = kit;
  return kit.shape({ minRank }).chain((shape) => {
    const rank = Math.max(shape.length, 1);
    return fc.tuple(
      fc.constant(shape),
      kit.tensor(shape, { distinct: true }),
      fc.integer({ min: -rank, max: rank - 1 }),
    );
  });
}

interface SortAttrs {
  readonly axis?: number;
  readonly descending?: boolean;
}

const sortOp = defineOp({
  name: "sort",
  inputs: ["x"],
  outputs: ["values", "indices"],
  forward: ([x], { axis = -1, descending = false }: SortAttrs) => {
    const along = lineAxis("sort", axis, x.ndim);
    const n = x.ndim === 0 ? 1 : x.shape[along]!;
    return sortLines(x, along, booleanAttr("sort", "descending", descending), n, true);
  },
  vjp: ({ dy: [dvalues], y: [, indices], inputs: [x], attrs: { axis = -1 } }) => [
    scatterBack(dvalues, indices, x, lineAxis("sort", axis, x.ndim)),
  ],
  batch: ({ inputs: [x], axes: [b], attrs }): SortResult =>
    sortBatch("sort", x, b!, attrs.axis ?? -1, (xs, axis) => sortOp(xs, { ...attrs, axis })),
  samples: (kit) =>
    lineSamples(kit, 0).chain(([, x, axis]) =>
      kit.fc.boolean().map((descending) => ({ inputs: [x], attrs: { axis, descending } })),
    ),
});

/** Options of `sort`. */
export interface SortOptions {
  /** The axis to sort along (default −1, the last). */
  readonly axis?: number;
  /** Largest first (default false: smallest first). */
  readonly descending?: boolean;
}

/**
 * x sorted along `axis` (default last), as torch.sort with stable=True: [values, int32 indices]
 * with values = takeAlongAxis(x, indices); ties keep their original order; NaN sorts last
 * (first when descending). Gradient: dy scattered back to the positions in indices.
 */
export function sort(
  x: TensorLike,
  options?: SortOptions,
): readonly [values: Tensor, indices: Tensor] {
  return sortOp(x, optionsArgument("sort", options));
}

interface TopkAttrs {
  readonly k: number;
  readonly axis?: number;
  readonly largest?: boolean;
  readonly sorted?: boolean;
}

const topkOp = defineOp({
  name: "topk",
  inputs: ["x"],
  outputs: ["values", "indices"],
  forward: ([x], { k, axis = -1, largest = true, sorted = true }: TopkAttrs) => {
    const along = alongAxis("topk", axis, x.ndim, "x");
    const n = x.shape[along]!;
    if (!Number.isSafeInteger(k) || k < 0 || k > n) {
      throw argumentError(
        "topk",
        `k must be an integer in 0…${n} (the size of axis ${along} of x, shape ` +
          `${showShape(x.shape)}), got ${show(k)}`,
      );
    }
    const descending = booleanAttr("topk", "largest", largest);
    return sortLines(x, along, descending, k, booleanAttr("topk", "sorted", sorted));
  },
  vjp: ({ dy: [dvalues], y: [, indices], inputs: [x], attrs: { axis = -1 } }) => [
    scatterBack(dvalues, indices, x, lineAxis("topk", axis, x.ndim)),
  ],
  batch: ({ inputs: [x], axes: [b], attrs }): SortResult => {
    // Slices must be of rank 1 or more, as x must be without vmap.
    alongAxis("topk", attrs.axis ?? -1, x.ndim - 1, "x");
    return sortBatch("topk", x, b!, attrs.axis ?? -1, (xs, axis) => topkOp(xs, { ...attrs, axis }));
  },
  samples: (kit) => {
    const { fc } = kit;
    return lineSamples(kit, 1).chain(([shape, x, axis]) =>
      fc
        .tuple(
          fc.integer({ min: 0, max: shape[axis < 0 ? axis + shape.length : axis]! }),
          fc.boolean(),
          fc.boolean(),
        )
        .map(([k, largest, sorted]) => ({ inputs: [x], attrs: { k, axis, largest, sorted } })),
    );
  },
});

/** Options of `topk`. */
export interface TopkOptions {
  /** The axis to search along (default −1, the last). */
  readonly axis?: number;
  /** The k largest (default true) or the k smallest. */
  readonly largest?: boolean;
  /** In sorted order (default true), or else in their order in x. */
  readonly sorted?: boolean;
}

/**
 * The k largest (or smallest) entries along `axis` (default last), as torch.topk: [values, int32
 * indices] with k along the axis. Ties go to the earlier position; NaN counts as the largest.
 * Gradient: dy scattered back to the positions in indices, zero elsewhere.
 */
export function topk(
  x: TensorLike,
  k: number,
  options?: TopkOptions,
): readonly [values: Tensor, indices: Tensor] {
  return topkOp(x, { ...optionsArgument("topk", options), k });
}

interface AlongAxisAttrs {
  readonly axis?: number;
}

interface ScatterAlongAxisAttrs extends AlongAxisAttrs {
  readonly shape: readonly number[];
}

/**
 * Checks int32 `indices` against a tensor of `shape` along `axis`: the same rank, the same sizes
 * off the axis, and values in −n…n−1; returns them.
 */
function checkIndices(
  op: string,
  indices: Tensor,
  shape: Shape,
  axis: number,
  what: string,
): Int32Array {
  const data = indices.buffer;
  if (!(data instanceof Int32Array)) {
    throw dtypeError(
      op,
      `indices must be int32 (as sort and topk give them), got ${indices.dtype}`,
    );
  }
  const fits =
    indices.ndim === shape.length && shape.every((d, i) => i === axis || indices.shape[i] === d);
  if (!fits) {
    const pattern = shape.map((d, i) => (i === axis ? "*" : String(d)));
    throw shapeError(
      op,
      `indices has shape ${showShape(indices.shape)}, expected [${pattern.join(",")}]: ` +
        `${what} ${showShape(shape)} with any size along axis ${axis}`,
    );
  }
  const n = shape[axis]!;
  for (let i = 0; i < data.length; i++) {
    if (data[i]! < -n || data[i]! >= n) {
      throw argumentError(
        op,
        `indices${showIndex(indices.shape, i)} = ${data[i]} is out of range for axis ${axis} of ` +
          `${what} ${showShape(shape)}; expected ${-n} ≤ index < ${n}`,
      );
    }
  }
  return data;
}

/** An axis of a tensor of rank `rank` ≥ 1 for the along-axis ops. */
function alongAxis(op: string, axis: unknown, rank: number, what: string): number {
  if (rank === 0) throw shapeError(op, `${what} is a scalar; ${op} needs rank ≥ 1`);
  if (typeof axis !== "number")
    throw argumentError(op, `axis must be an integer, got ${show(axis)}`);
  return normalizeAxis(op, axis, rank);
}

/** For each element of `indices`: its flat position there and the flat position it names. */
function eachTarget(
  indices: Int32Array,
  indicesShape: Shape,
  shape: Shape,
  axis: number,
  visit: (from: number, to: number) => void,
): void {
  const { outer, n: m, inner } = around(indicesShape, axis);
  const n = shape[axis]!;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < inner; i++) {
        const from = (o * m + j) * inner + i;
        const index = indices[from]!;
        visit(from, (o * n + (index < 0 ? index + n : index)) * inner + i);
      }
    }
  }
}

/** x and int32 indices with x's sizes off the axis and 0–4 entries along it. */
function alongAxisSamples(kit: SampleKit) {
  const { fc } = kit;
  return kit.shape({ minRank: 1 }).chain((shape) =>
    fc
      .tuple(fc.integer({ min: -shape.length, max: shape.length - 1 }), fc.nat({ max: 4 }))
      .chain(([axis, m]) => {
        const a = axis < 0 ? axis + shape.length : axis;
        const n = shape[a]!;
        const indicesShape = shape.map((d, i) => (i === a ? m : d));
        return fc
          .tuple(
            kit.tensor(shape),
            kit.tensor(indicesShape, { dtype: "int32", min: -n, max: n - 1 }),
          )
          .map(([x, indices]) => ({ shape, axis, x, indices }));
      }),
  );
}

const takeAlongAxisOp = defineOp({
  name: "takeAlongAxis",
  inputs: ["x", "indices"],
  forward: ([x, indices], { axis = -1 }: AlongAxisAttrs) => {
    const a = alongAxis("takeAlongAxis", axis, x.ndim, "x");
    const data = checkIndices("takeAlongAxis", indices, x.shape, a, "x of shape");
    const source = x.buffer;
    return produce(x.dtype, indices.shape, (out) =>
      eachTarget(data, indices.shape, x.shape, a, (from, to) => (out[from] = source[to]!)),
    );
  },
  // Each x element's gradient is the sum of dy over the places it was read into.
  vjp: ({ dy, inputs: [x, indices], attrs: { axis = -1 }, needsGrad }): (Tensor | null)[] => [
    needsGrad[0] ? scatterAddAlongAxisOp(dy, indices, { axis, shape: x.shape }) : null,
    null,
  ],
  // Both with the batch in front (an unmapped one broadcast), along the slices' axis + 1.
  batch: ({ inputs: [x, indices], axes: [bx, bi], size, attrs }): BatchResult<SingleOutput> => {
    const rank = x.ndim - (bx === null ? 0 : 1);
    const a = alongAxis("takeAlongAxis", attrs.axis ?? -1, rank, "x");
    const y = takeAlongAxisOp(batchAt(x, bx, 0, size), batchAt(indices, bi, 0, size), {
      axis: a + 1,
    });
    return { y, axes: [0] };
  },
  samples: (kit) =>
    alongAxisSamples(kit).map(({ axis, x, indices }) => ({
      inputs: [x, indices],
      attrs: { axis },
    })),
});

/**
 * x read at int32 `indices` along `axis` (default −1), as numpy.take_along_axis and torch.gather:
 * out[…, j, …] = x[…, indices[…, j, …], …]. indices has x's rank and sizes except along the axis;
 * negative indices count from the end. Gradient: dy added back at the indices (repeats sum).
 */
export function takeAlongAxis(x: TensorLike, indices: Tensor, attrs?: AlongAxisAttrs): Tensor {
  return takeAlongAxisOp(x, indices, optionsArgument("takeAlongAxis", attrs));
}

const scatterAddAlongAxisOp = defineOp({
  name: "scatterAddAlongAxis",
  inputs: ["updates", "indices"],
  forward: ([updates, indices], { shape, axis = -1 }: ScatterAlongAxisAttrs) => {
    assertValidShape("scatterAddAlongAxis", shape);
    const a = alongAxis("scatterAddAlongAxis", axis, shape.length, "the target shape");
    const data = checkIndices("scatterAddAlongAxis", indices, shape, a, "the target shape");
    if (updates.ndim !== indices.ndim || updates.shape.some((d, i) => d !== indices.shape[i])) {
      throw shapeError(
        "scatterAddAlongAxis",
        `updates has shape ${showShape(updates.shape)}, expected indices' shape ` +
          `${showShape(indices.shape)}`,
      );
    }
    const source = updates.buffer;
    return produce(updates.dtype, [...shape], (out) =>
      eachTarget(data, indices.shape, shape, a, (from, to) => (out[to]! += source[from]!)),
    );
  },
  // Linear in updates, with takeAlongAxis as its transpose.
  vjp: ({ dy, inputs: [, indices], attrs: { axis = -1 }, needsGrad }): (Tensor | null)[] => [
    needsGrad[0] ? takeAlongAxisOp(dy, indices, { axis }) : null,
    null,
  ],
  batch: ({
    inputs: [updates, indices],
    axes: [bu, bi],
    size,
    attrs: { shape, axis = -1 },
  }): BatchResult<SingleOutput> => {
    assertValidShape("scatterAddAlongAxis", shape);
    const a = alongAxis("scatterAddAlongAxis", axis, shape.length, "the target shape");
    const y = scatterAddAlongAxisOp(batchAt(updates, bu, 0, size), batchAt(indices, bi, 0, size), {
      shape: [size, ...shape],
      axis: a + 1,
    });
    return { y, axes: [0] };
  },
  samples: (kit) =>
    alongAxisSamples(kit).chain(({ shape, axis, indices }) =>
      kit
        .tensor(indices.shape)
        .map((updates) => ({ inputs: [updates, indices], attrs: { shape, axis } })),
    ),
});

/**
 * zeros(shape) with `updates` added along `axis` (default −1) at int32 `indices` of updates'
 * shape: out[…, indices[…, j, …], …] += updates[…, j, …], as torch.scatter_add; repeated indices
 * accumulate. Gradient: takeAlongAxis of dy at the indices.
 */
export function scatterAddAlongAxis(
  updates: TensorLike,
  indices: Tensor,
  attrs: ScatterAlongAxisAttrs,
): Tensor {
  return scatterAddAlongAxisOp(updates, indices, optionsArgument("scatterAddAlongAxis", attrs));
}
