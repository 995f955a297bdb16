import { kernels } from "../backends/backend.js";
import { isDType, type DType } from "../dtype.js";
import { argumentError, dtypeError, shapeError, show, showIndex, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import {
  assertSizeWithinLimit,
  assertValidShape,
  normalizeAxis,
  shapeSize,
  shapesEqual,
} from "../shape.js";
import { Tensor, arange, tensor, type NestedArray, type TensorLike } from "../tensor.js";
import { batchAt } from "./batching.js";
import { batchFirst } from "./transpose.js";
import { add, mul } from "./binary.js";
import { reshape } from "./reshape.js";
import { produce } from "./util.js";

/** Integer indices: an int32 tensor, or a number or (nested) arrays of them, made int32. */
export type IndicesLike = Tensor | NestedArray | readonly number[];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Plain numbers become an int32 tensor; fractions (which int32 would truncate) are errors. */
function toIndices(op: string, name: string, indices: IndicesLike): Tensor {
  if (indices instanceof Tensor) return indices;
  const values = tensor(indices, { dtype: "float64" });
  for (const v of values.buffer) {
    if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
      throw argumentError(op, `${name} must hold int32 integers, got ${v}`);
    }
  }
  return tensor(values.buffer, { dtype: "int32", shape: values.shape });
}

/** The int32 data of `indices`, each checked to lie in −n…n−1; `bound` names the axis. */
function indexData(op: string, indices: Tensor, n: number, bound: string): Int32Array {
  const data = indices.buffer;
  if (!(data instanceof Int32Array)) {
    throw dtypeError(op, `indices must be int32, got ${indices.dtype}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -n || v >= n) {
      throw argumentError(
        op,
        `indices${showIndex(indices.shape, i)} = ${v} is out of range for ${bound}; ` +
          `expected ${-n} ≤ index < ${n}`,
      );
    }
  }
  return data;
}

/** shape with axis `axis` replaced by all of `indicesShape`: the layout gather produces. */
function gatheredShape(
  shape: readonly number[],
  axis: number,
  indicesShape: readonly number[],
): number[] {
  return [...shape.slice(0, axis), ...indicesShape, ...shape.slice(axis + 1)];
}

/** shape viewed as [outer, n, inner] around `axis`, as the gather and scatterAdd kernels see it. */
function around(shape: readonly number[], axis: number) {
  return {
    outer: shapeSize(shape.slice(0, axis)),
    n: shape[axis]!,
    inner: shapeSize(shape.slice(axis + 1)),
  };
}

/**
 * For mapped indices (batch axis b): indices into an axis of n·size that interleaves the slices'
 * axes of n, slice b's index i at i·size + b. That maps −n…n−1 onto −n·size…n·size−1, negatives
 * included, so an index out of range for its slice stays out of range.
 */
function interleavedIndices(indices: Tensor, b: number, size: number): Tensor {
  const along = indices.shape.map((_, i) => (i === b ? size : 1));
  return add(mul(indices, size), reshape(arange(0, size, 1, "int32"), along));
}

/** shape with axes `axis` and `axis + 1` merged into one. */
function mergeAxes(shape: readonly number[], axis: number): number[] {
  return [...shape.slice(0, axis), shape[axis]! * shape[axis + 1]!, ...shape.slice(axis + 2)];
}

/** An axis of `shape` (possibly negative) and int32 indices in range for it. */
function axisAndIndices(kit: SampleKit, shape: readonly number[]) {
  const { fc } = kit;
  return fc
    .tuple(fc.integer({ min: -shape.length, max: shape.length - 1 }), kit.shape({ maxRank: 2 }))
    .chain(([axis, indicesShape]) => {
      const n = shape[axis < 0 ? axis + shape.length : axis]!;
      return kit
        .tensor(indicesShape, { dtype: "int32", min: -n, max: n - 1 })
        .map((indices) => ({ axis, indices }));
    });
}

interface GatherAttrs {
  readonly axis?: number;
}

/** gather's axis of x of rank `rank`, resolved. */
function gatherAxis(axis: number, rank: number): number {
  if (rank === 0) throw argumentError("gather", "x is a scalar; gather needs x of rank ≥ 1");
  return normalizeAxis("gather", axis, rank);
}

const gatherOp = defineOp({
  name: "gather",
  inputs: ["x", "indices"],
  forward: ([x, indices], { axis = 0 }: GatherAttrs) => {
    const a = gatherAxis(axis, x.ndim);
    const { outer, n, inner } = around(x.shape, a);
    const data = indexData("gather", indices, n, `axis ${a} of x (shape ${showShape(x.shape)})`);
    const shape = gatheredShape(x.shape, a, indices.shape);
    return produce(x.dtype, shape, (out) => kernels().gather(x.buffer, outer, n, inner, data, out));
  },
  // Each x element's gradient is the sum of dy over every place it was copied to.
  vjp: ({ dy, inputs: [x, indices], attrs: { axis = 0 }, needsGrad }) => [
    needsGrad[0] ? scatterAdd(dy, indices, x.shape, axis) : null,
    null,
  ],
  // With both mapped, x's batch axis goes after the gathered one and merges into it.
  batch: ({ inputs: [x, indices], axes: [bx, bi], size, attrs }): BatchResult<SingleOutput> => {
    const a = gatherAxis(attrs.axis ?? 0, x.ndim - (bx === null ? 0 : 1));
    if (bi === null) {
      return { y: gatherOp(batchFirst(x, bx!), indices, { axis: a + 1 }), axes: [0] };
    }
    if (bx === null) return { y: gatherOp(x, indices, { axis: a }), axes: [a + bi!] };
    const moved = batchAt(x, bx!, a + 1, size);
    const merged = reshape(moved, mergeAxes(moved.shape, a));
    const y = gatherOp(merged, interleavedIndices(indices, bi!, size), { axis: a });
    return { y, axes: [a + bi!] };
  },
  samples: (kit) =>
    kit.anyTensor({ minRank: 1 }).chain((x) =>
      axisAndIndices(kit, x.shape).map(({ axis, indices }) => ({
        inputs: [x, indices],
        attrs: { axis },
      })),
    ),
});

/**
 * Takes slices of x along `axis` at int32 `indices` of any shape, like `jnp.take`: the result
 * has shape x.shape[:axis] + indices.shape + x.shape[axis+1:]; negative indices count from the
 * end. Gradient: scatterAdd of dy into x's shape (repeated indices accumulate); none to indices.
 */
export function gather(x: TensorLike, indices: IndicesLike, axis = 0): Tensor {
  return gatherOp(x, toIndices("gather", "indices", indices), { axis });
}

interface ScatterAddAttrs {
  readonly shape: readonly number[];
  readonly axis?: number;
}

/** scatterAdd's axis of the target `shape`, resolved, after checking the shape. */
function targetAxis(shape: readonly number[], axis: number): number {
  if (!Array.isArray(shape)) {
    throw argumentError("scatterAdd", "shape must be an array of integers");
  }
  assertValidShape("scatterAdd", shape);
  if (shape.length === 0) {
    throw argumentError("scatterAdd", "shape is [] (a scalar); the target needs rank ≥ 1");
  }
  return normalizeAxis("scatterAdd", axis, shape.length);
}

const scatterAddOp = defineOp({
  name: "scatterAdd",
  inputs: ["updates", "indices"],
  forward: ([updates, indices], { shape, axis = 0 }: ScatterAddAttrs) => {
    const a = targetAxis(shape, axis);
    const { outer, n, inner } = around(shape, a);
    const bound = `axis ${a} of the target shape ${showShape(shape)}`;
    const data = indexData("scatterAdd", indices, n, bound);
    const expected = gatheredShape(shape, a, indices.shape);
    if (!shapesEqual(updates.shape, expected)) {
      throw shapeError(
        "scatterAdd",
        `updates has shape ${showShape(updates.shape)}, expected ${showShape(expected)}: ` +
          `the target shape ${showShape(shape)} with axis ${a} replaced by ` +
          `indices.shape ${showShape(indices.shape)}`,
      );
    }
    return produce(updates.dtype, [...shape], (out) =>
      kernels().scatterAdd(updates.buffer, outer, n, inner, data, out),
    );
  },
  // scatterAdd is linear and gather is its transpose.
  vjp: ({ dy, inputs: [, indices], attrs: { axis = 0 }, needsGrad }) => [
    needsGrad[0] ? gather(dy, indices, axis) : null,
    null,
  ],
  // With indices mapped, the target's axis holds the slices' axes interleaved, as in gather.
  batch: ({
    inputs: [updates, indices],
    axes: [bu, bi],
    size,
    attrs: { shape, axis = 0 },
  }): BatchResult<SingleOutput> => {
    const a = targetAxis(shape, axis);
    if (bi === null) {
      const front = batchFirst(updates, bu!);
      return {
        y: scatterAddOp(front, indices, { shape: [size, ...shape], axis: a + 1 }),
        axes: [0],
      };
    }
    const target = [...shape.slice(0, a), shape[a]!, size, ...shape.slice(a + 1)];
    const u = batchAt(updates, bu ?? null, a + bi!, size);
    const merged = { shape: mergeAxes(target, a), axis: a };
    const y = scatterAddOp(u, interleavedIndices(indices, bi!, size), merged);
    return { y: reshape(y, target), axes: [a + 1] };
  },
  samples: (kit) =>
    kit.shape({ minRank: 1 }).chain((shape) =>
      axisAndIndices(kit, shape).chain(({ axis, indices }) => {
        const a = axis < 0 ? axis + shape.length : axis;
        return kit
          .tensor(gatheredShape(shape, a, indices.shape))
          .map((updates) => ({ inputs: [updates, indices], attrs: { shape, axis } }));
      }),
    ),
});

/**
 * zeros(shape) with updates added along `axis` at `indices`: out[…, indices[j], …] +=
 * updates[…, j, …], so repeated indices accumulate; updates has gather's output layout.
 * Gradient: gather of dy (scatterAdd is gather's transpose); none to indices.
 */
export function scatterAdd(
  updates: TensorLike,
  indices: IndicesLike,
  shape: readonly number[],
  axis = 0,
): Tensor {
  return scatterAddOp(updates, toIndices("scatterAdd", "indices", indices), { shape, axis });
}

interface OneHotAttrs {
  readonly numClasses: number;
  readonly dtype?: DType;
}

// No vjp: the input is integer labels, so there is nothing to differentiate.
const oneHotOp = defineOp({
  name: "oneHot",
  inputs: ["labels"],
  forward: ([labels], { numClasses, dtype = "float32" }: OneHotAttrs) => {
    if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
      throw argumentError(
        "oneHot",
        `numClasses must be a positive integer, got ${show(numClasses)}`,
      );
    }
    if (!isDType(dtype)) {
      throw argumentError("oneHot", `dtype must be float32, float64 or int32, got ${show(dtype)}`);
    }
    const data = labels.buffer;
    if (!(data instanceof Int32Array)) {
      throw dtypeError("oneHot", `labels must be int32, got ${labels.dtype}`);
    }
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < 0 || v >= numClasses) {
        throw argumentError(
          "oneHot",
          `labels${showIndex(labels.shape, i)} = ${v} is out of range for ${numClasses} classes; ` +
            `expected 0 ≤ label < ${numClasses}`,
        );
      }
    }
    const shape = [...labels.shape, numClasses];
    assertSizeWithinLimit("oneHot", shape);
    return produce(dtype, shape, (out) => kernels().oneHot(data, numClasses, out));
  },
  // The classes axis is appended last, so the batch axis stays where it is.
  batch: ({ inputs: [labels], axes, attrs }): BatchResult<SingleOutput> => ({
    y: oneHotOp(labels, attrs),
    axes,
  }),
});

/**
 * One-hot encoding: out[…, c] = 1 where labels[…] = c, else 0; shape labels.shape + [numClasses].
 * Labels must lie in 0…numClasses−1 (no negatives). Not differentiable.
 */
export function oneHot(labels: IndicesLike, numClasses: number, dtype: DType = "float32"): Tensor {
  return oneHotOp(toIndices("oneHot", "labels", labels), { numClasses, dtype });
}
