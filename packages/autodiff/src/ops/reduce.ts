import { kernels } from "../backends/backend.js";
import { allocate } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";
import type { ReduceKind } from "../kernels/reduce.js";
import {
  defineOp,
  type BatchContext,
  type BatchResult,
  type OpSample,
  type SingleOutput,
  type VjpContext,
} from "../registry.js";
import type { SampleArbitrary } from "../sampleTypes.js";
import type { SampleKit } from "../sampling.js";
import { normalizeAxis, shapeSize } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { batchFirst } from "./transpose.js";
import { div, mul, sub } from "./binary.js";
import {
  expandReduced,
  reduceBatch,
  reduceSamples,
  reducedShapes,
  sum,
  type ReduceAttrs,
} from "./broadcast.js";
import { equal } from "./compare.js";
import { reshape } from "./reshape.js";
import { exp } from "./unary.js";
import { floatTypeOf, produce } from "./util.js";

// sum is defined beside broadcastTo, its gradient (see broadcast.ts), and exported from here too,
// where the other reductions are.
export { sum, type ReduceAttrs } from "./broadcast.js";

/** Mean over `axis` (all axes by default). Gradient: dy/n broadcast back. */
export function mean(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  const s = sum(x, attrs);
  const shape = typeof x === "number" ? [] : x.shape;
  // sum has checked x and attrs: attrs is an object, or null or undefined for all axes.
  const { axes } = reducedShapes("mean", shape, attrs ?? {});
  let n = 1;
  for (const a of axes) n *= shape[a]!;
  return mul(s, 1 / n);
}

/**
 * Rejects a max/min-like reduction over a size-0 axis when some output element would then have
 * no values at all (NumPy raises too); an output that is itself empty is fine.
 */
function assertNonEmpty(
  op: string,
  shape: readonly number[],
  axes: readonly number[],
  outSize: number,
): void {
  const empty = axes.find((a) => shape[a] === 0);
  if (empty === undefined || outSize === 0) return;
  const what = op.endsWith("max") ? "maximum" : "minimum";
  throw shapeError(
    op,
    `cannot reduce x of shape ${showShape(shape)} over axis ${empty} of size 0: ` +
      `the ${what} of no elements is undefined`,
  );
}

function extremeForward(kind: Extract<ReduceKind, "max" | "min">, x: Tensor, attrs: ReduceAttrs) {
  const { axes, out } = reducedShapes(kind, x.shape, attrs);
  assertNonEmpty(kind, x.shape, axes, shapeSize(out));
  return produce(x.dtype, out, (buffer) => kernels().reduce(kind, x.buffer, x.shape, axes, buffer));
}

type ReduceContext = VjpContext<readonly ["x"], ReduceAttrs, undefined>;

/**
 * dy goes to every position equal to the extreme, split evenly among ties (as JAX does), so
 * max of [3, 3] has gradient [½, ½]. Written with equal/sum/div so it can be differentiated.
 */
function extremeVjp(op: string) {
  return ({ dy, inputs: [x], y, attrs }: ReduceContext) => {
    const hits = equal(x, expandReduced(y, x, attrs, op));
    const counts = sum(hits, { axis: attrs.axis, keepdims: true });
    return [div(mul(expandReduced(dy, x, attrs, op), hits), counts)];
  };
}

const maxOp = defineOp({
  name: "max",
  inputs: ["x"],
  forward: ([x], attrs: ReduceAttrs) => extremeForward("max", x, attrs),
  vjp: extremeVjp("max"),
  batch: reduceBatch("max", (x, attrs): Tensor => maxOp(x, attrs)),
  // Distinct values: at a tie the max has a kink and finite differences see half-gradients.
  samples: (kit) => reduceSamples(kit, { distinct: true }),
});

const minOp = defineOp({
  name: "min",
  inputs: ["x"],
  forward: ([x], attrs: ReduceAttrs) => extremeForward("min", x, attrs),
  vjp: extremeVjp("min"),
  batch: reduceBatch("min", (x, attrs): Tensor => minOp(x, attrs)),
  samples: (kit) => reduceSamples(kit, { distinct: true }),
});

/**
 * Maximum over `axis` (all axes by default); NaN wins; a size-0 axis is an error.
 * Gradient: dy to the positions equal to the maximum, split evenly among ties (as JAX).
 */
export function max(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  return maxOp(x, attrs);
}

/**
 * Minimum over `axis` (all axes by default); NaN wins; a size-0 axis is an error.
 * Gradient: dy to the positions equal to the minimum, split evenly among ties (as JAX).
 */
export function min(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  return minOp(x, attrs);
}

const logSumExpOp = defineOp({
  name: "logSumExp",
  inputs: ["x"],
  forward: ([x], attrs: ReduceAttrs) => {
    const { axes, out } = reducedShapes("logSumExp", x.shape, attrs);
    // int32 computes in float32, as exp does; the kernel shifts by the max so nothing overflows.
    return produce(floatTypeOf(x), out, (buffer) =>
      kernels().logSumExp(x.buffer, x.shape, axes, buffer),
    );
  },
  // exp(x − y) is the softmax over the reduced axes, and y is differentiable in turn.
  vjp: ({ dy, inputs: [x], y, attrs }) => {
    const softmax = exp(sub(x, expandReduced(y, x, attrs, "logSumExp")));
    return [mul(expandReduced(dy, x, attrs, "logSumExp"), softmax)];
  },
  batch: reduceBatch("logSumExp", (x, attrs): Tensor => logSumExpOp(x, attrs)),
  samples: (kit) => reduceSamples(kit),
});

/**
 * log Σ exp(x) over `axis` (all axes by default), computed as m + log Σ exp(x − m) with m the
 * max, so it never overflows; a size-0 axis gives −∞. Gradient: dy·softmax(x) over those axes.
 */
export function logSumExp(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  return logSumExpOp(x, attrs);
}

/** Attrs of argmax/argmin: one axis (all elements, flattened, when omitted) and keepdims. */
export interface ArgReduceAttrs {
  /** The axis to search (negative counts from the end); default: x flattened. */
  readonly axis?: number;
  /** Keep the searched axis as size 1 (default false). */
  readonly keepdims?: boolean;
}

type ArgKind = "argmax" | "argmin";

/** The axis to search in a tensor of rank `rank`, or undefined to search it flattened. */
function searchedAxis(kind: ArgKind, axis: number | undefined, rank: number): number | undefined {
  // Typed as a number, but JavaScript callers may pass a list as they would to max.
  const raw: unknown = axis;
  if (raw !== undefined && typeof raw !== "number") {
    throw argumentError(
      kind,
      `axis must be one integer, or undefined for all elements, got ${show(raw)}`,
    );
  }
  const along = axis === undefined ? undefined : normalizeAxis(kind, axis, rank);
  // NumPy flattens when no axis is given; a scalar is a one-element list either way.
  return rank === 0 ? undefined : along;
}

function argForward(kind: ArgKind, x: Tensor, attrs: ArgReduceAttrs): Tensor {
  const { keepdims = false } = attrs;
  const along = searchedAxis(kind, attrs.axis, x.ndim);
  const flat = along === undefined;
  const out = flat
    ? x.shape.map(() => 1).slice(0, keepdims ? x.ndim : 0)
    : x.shape.flatMap((d, i) => (i !== along ? [d] : keepdims ? [1] : []));
  const searched = flat ? x.shape.map((_, i) => i) : [along];
  assertNonEmpty(kind, x.shape, searched, shapeSize(out));
  const buffer = allocate("int32", shapeSize(out)) as Int32Array;
  kernels().argReduce(kind, x.buffer, flat ? [x.size] : x.shape, flat ? 0 : along, buffer);
  return new Tensor(buffer, out);
}

/**
 * argmax/argmin over a batch: the batch axis in front and the searched axis shifted past it; a
 * search of each slice flattened runs along the rows of the batch as [size, slice elements].
 */
function argBatch(kind: ArgKind, apply: (x: Tensor, attrs: ArgReduceAttrs) => Tensor) {
  return ({ inputs: [x], axes: [b], attrs }: ArgBatchContext): BatchResult<SingleOutput> => {
    const front = batchFirst(x, b!);
    const [size, ...slice] = front.shape;
    const along = searchedAxis(kind, attrs.axis, slice.length);
    if (along !== undefined) return { y: apply(front, { ...attrs, axis: along + 1 }), axes: [0] };
    const found = apply(reshape(front, [size!, shapeSize(slice)]), { axis: 1 });
    if (!attrs.keepdims) return { y: found, axes: [0] };
    return { y: reshape(found, [size!, ...slice.map(() => 1)]), axes: [0] };
  };
}

type ArgBatchContext = BatchContext<readonly ["x"], ArgReduceAttrs>;

/** Distinct values (a tie's index depends on the search order), any axis or none, keepdims. */
function argSamples(kit: SampleKit): SampleArbitrary<OpSample<ArgReduceAttrs>> {
  const { fc } = kit;
  return kit
    .shape({ minRank: 1 })
    .chain((shape) =>
      fc.tuple(
        kit.tensor(shape, { distinct: true }),
        fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 }), { nil: undefined }),
        fc.boolean(),
      ),
    )
    .map(([x, axis, keepdims]) => ({ inputs: [x], attrs: { axis, keepdims } }));
}

// Indices carry no gradient, so argmax and argmin have no vjp.
const argmaxOp = defineOp({
  name: "argmax",
  inputs: ["x"],
  forward: ([x], attrs: ArgReduceAttrs) => argForward("argmax", x, attrs),
  batch: argBatch("argmax", (x, attrs): Tensor => argmaxOp(x, attrs)),
  samples: argSamples,
});

const argminOp = defineOp({
  name: "argmin",
  inputs: ["x"],
  forward: ([x], attrs: ArgReduceAttrs) => argForward("argmin", x, attrs),
  batch: argBatch("argmin", (x, attrs): Tensor => argminOp(x, attrs)),
  samples: argSamples,
});

/**
 * int32 index of the maximum along `axis` (of the flattened x by default), as NumPy. Ties give
 * the first index; a NaN counts as the maximum. Not differentiable.
 */
export function argmax(x: TensorLike, attrs: ArgReduceAttrs = {}): Tensor {
  return argmaxOp(x, attrs);
}

/**
 * int32 index of the minimum along `axis` (of the flattened x by default), as NumPy. Ties give
 * the first index; a NaN counts as the minimum. Not differentiable.
 */
export function argmin(x: TensorLike, attrs: ArgReduceAttrs = {}): Tensor {
  return argminOp(x, attrs);
}
