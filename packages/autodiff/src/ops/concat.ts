import { kernels } from "../backends/backend.js";
import { promoteTypes } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { scalarLike } from "../scalar.js";
import { normalizeAxis, shapesEqual } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { batchAt } from "./batching.js";
import { expandDims } from "./reshape.js";
import { slice } from "./slice.js";
import { produce } from "./util.js";

interface ConcatAttrs {
  readonly axis?: number;
}

/** The resolved axis and result shape of joining `xs` along `axis`, or a precise error. */
function concatShape(xs: readonly Tensor[], axis: number): { axis: number; shape: number[] } {
  const first = xs[0];
  if (first === undefined) throw argumentError("concat", "xs must hold at least one tensor");
  if (first.ndim === 0) {
    throw shapeError("concat", "xs[0] is a scalar (shape []); concat needs tensors of rank ≥ 1");
  }
  const a = normalizeAxis("concat", axis, first.ndim);
  const shape = [...first.shape];
  shape[a] = 0;
  xs.forEach((x, i) => {
    if (x.ndim !== first.ndim) {
      throw shapeError(
        "concat",
        `xs[${i}] has shape ${showShape(x.shape)} (rank ${x.ndim}), expected rank ${first.ndim} ` +
          `like xs[0] ${showShape(first.shape)}`,
      );
    }
    if (x.shape.some((d, k) => k !== a && d !== first.shape[k])) {
      const pattern = first.shape.map((d, k) => (k === a ? "*" : String(d)));
      throw shapeError(
        "concat",
        `xs[${i}] has shape ${showShape(x.shape)}, expected [${pattern.join(",")}] to match ` +
          `xs[0] ${showShape(first.shape)} on every axis but ${a}`,
      );
    }
    shape[a]! += x.shape[a]!;
  });
  return { axis: a, shape };
}

const concatOp = defineOp({
  name: "concat",
  inputs: ["xs"],
  variadic: true,
  forward: (inputs, { axis = 0 }: ConcatAttrs) => {
    const xs: readonly Tensor[] = inputs;
    const { axis: a, shape } = concatShape(xs, axis);
    const dtype = xs.map((x) => x.dtype).reduce(promoteTypes);
    const buffers = xs.map((x) => x.buffer);
    const shapes = xs.map((x) => x.shape);
    return produce(dtype, shape, (out) => kernels().concat(buffers, shapes, a, out));
  },
  // Each input's gradient is its own stretch of dy along the axis.
  vjp: ({ dy, inputs, attrs: { axis = 0 }, needsGrad }) => {
    const xs: readonly Tensor[] = inputs;
    const a = normalizeAxis("concat", axis, dy.ndim);
    let offset = 0;
    return xs.map((x, i) => {
      const start = offset;
      offset += x.shape[a]!;
      if (!needsGrad[i]) return null;
      const begin = dy.shape.map((_, k) => (k === a ? start : 0));
      const end = dy.shape.map((d, k) => (k === a ? offset : d));
      return slice(dy, begin, end);
    });
  },
  // Every input with the batch in front (unmapped ones broadcast), joined on the slices' axis + 1.
  batch: ({ inputs, axes, size, attrs: { axis = 0 } }): BatchResult<SingleOutput> => {
    const xs: readonly Tensor[] = inputs;
    const rank = xs[0]!.ndim - (axes[0] === null ? 0 : 1);
    const a = normalizeAxis("concat", axis, rank) + 1;
    const batched = xs.map((x, i) => batchAt(x, axes[i] ?? null, 0, size));
    return { y: concat(batched, a), axes: [0] };
  },
  samples: (kit) => {
    const { fc } = kit;
    return kit.shape({ minRank: 1 }).chain((shape) =>
      fc
        .tuple(
          fc.integer({ min: -shape.length, max: shape.length - 1 }),
          fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        )
        .chain(([axis, sizes]) => {
          const a = axis < 0 ? axis + shape.length : axis;
          const parts = sizes.map((s) => kit.tensor(shape.map((d, k) => (k === a ? s : d))));
          return fc.tuple(...parts).map((xs) => ({ inputs: xs, attrs: { axis } }));
        }),
    );
  },
});

/**
 * Joins tensors of equal rank along `axis` (negative counts from the end); the other axes must
 * match and dtypes promote. Gradient: each input gets its own slice of dy along the axis.
 */
export function concat(xs: readonly TensorLike[], axis = 0): Tensor {
  if (!Array.isArray(xs)) throw argumentError("concat", "xs must be an array of tensors");
  return concatOp.apply(xs, { axis });
}

/**
 * Joins tensors of equal shape along a new axis `axis` of the result (negative counts from its
 * end): expandDims on each, then concat. Gradient: each input gets its slice of dy.
 */
export function stack(xs: readonly TensorLike[], axis = 0): Tensor {
  if (!Array.isArray(xs)) throw argumentError("stack", "xs must be an array of tensors");
  if (xs.length === 0) throw argumentError("stack", "xs must hold at least one tensor");
  // Numbers take their dtype from the tensors beside them, as in every other op.
  const tensors = xs.filter((x): x is Tensor => x instanceof Tensor);
  const list = xs.map((x, i) => {
    if (x instanceof Tensor) return x;
    if (typeof x === "number") return scalarLike(x, tensors);
    throw argumentError("stack", `xs[${i}] must be a Tensor or a number, got ${show(x)}`);
  });
  const first = list[0]!;
  list.forEach((x, i) => {
    if (!shapesEqual(x.shape, first.shape)) {
      throw shapeError(
        "stack",
        `xs[${i}] has shape ${showShape(x.shape)}, expected ${showShape(first.shape)} like xs[0]`,
      );
    }
  });
  const a = normalizeAxis("stack", axis, first.ndim + 1);
  return concat(
    list.map((x) => expandDims(x, a)),
    a,
  );
}
