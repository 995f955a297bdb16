import { kernels } from "../backends/backend.js";
import { promoteTypes, type DType } from "../dtype.js";
import { shapeError, showShape } from "../errors.js";
import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp, type BatchContext, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit, ValueOptions } from "../sampling.js";
import type { SampleArbitrary } from "../sampleTypes.js";
import { assertValidShape, broadcastShapes, normalizeAxes, shapesEqual } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { batchFirst } from "./transpose.js";
import { reshape } from "./reshape.js";
import { produce } from "./util.js";

// Broadcasting and summing over axes are each other's gradient: broadcastTo's vjp sums dy over
// the broadcast axes, sum's vjp broadcasts dy back. The two ops, unbroadcast, which every
// broadcasting op's vjp uses, and binaryForward, the elementwise ops' broadcasting kernel call,
// live here together, below the elementwise ops and reductions, so that no module of ops
// imports one that imports it back.

/** Which axes a reduction runs over (all when omitted) and whether they stay as size 1. */
export interface ReduceAttrs {
  /** The axis or axes to reduce (negative counts from the end); default all. */
  readonly axis?: number | readonly number[];
  /** Keep each reduced axis as size 1, so the result broadcasts against x (default false). */
  readonly keepdims?: boolean;
}

/** The shapes of a reduction: with the reduced axes kept as 1, and as returned. */
export function reducedShapes(op: string, shape: readonly number[], attrs: ReduceAttrs) {
  const axes = normalizeAxes(op, attrs.axis, shape.length);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = attrs.keepdims ? kept : shape.filter((_, i) => !axes.includes(i));
  return { axes, kept, out };
}

/**
 * The batching rule of a reduction: the batch axis moved to the front and the reduced axes (all
 * of a slice's by default) shifted past it, so the result's batch axis is 0, keepdims or not.
 */
export function reduceBatch(op: string, apply: (x: Tensor, attrs: ReduceAttrs) => Tensor) {
  // A one-input op's rule runs only with its input mapped: b is never null.
  return ({ inputs: [x], axes: [b], attrs }: ReduceBatchContext): BatchResult<SingleOutput> => {
    const front = batchFirst(x, b!);
    const rank = front.ndim - 1;
    // A scalar slice accepts axis 0, which reduces nothing.
    const axes = normalizeAxes(op, attrs.axis, rank).filter((a) => a < rank);
    return { y: apply(front, { ...attrs, axis: axes.map((a) => a + 1) }), axes: [0] };
  };
}

type ReduceBatchContext = BatchContext<readonly ["x"], ReduceAttrs>;

/** Brings a reduced gradient back to the input's shape: restore size-1 axes, then broadcast. */
export function expandReduced(g: Tensor, x: Tensor, attrs: ReduceAttrs, op: string): Tensor {
  const { kept } = reducedShapes(op, x.shape, attrs);
  return broadcastTo(reshape(g, kept), x.shape);
}

/**
 * Sums a broadcast gradient back to the operand's `shape`: over the leading axes broadcasting
 * added and over the axes where the operand had size 1. Every broadcasting op's vjp uses it.
 */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? sum(g, { axis: axes, keepdims: true }) : g;
  return reshape(summed, shape);
}

const sumOp = defineOp({
  name: "sum",
  inputs: ["x"],
  forward: ([x], attrs: ReduceAttrs) => {
    const { axes, out } = reducedShapes("sum", x.shape, attrs);
    // Summing int32 stays int32, like NumPy; floats keep their precision.
    return produce(x.dtype, out, (buffer) =>
      kernels().reduce("sum", x.buffer, x.shape, axes, buffer),
    );
  },
  vjp: ({ dy, inputs: [x], attrs }) => [expandReduced(dy, x, attrs, "sum")],
  batch: reduceBatch("sum", (x, attrs): Tensor => sumOp(x, attrs)),
  samples: (kit) => reduceSamples(kit),
});

/** Sum over `axis` (all axes by default). Gradient: dy broadcast back over the summed axes. */
export function sum(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  return sumOp(x, attrs);
}

interface BroadcastToAttrs {
  readonly shape: readonly number[];
}

const broadcastToOp = defineOp({
  name: "broadcastTo",
  inputs: ["x"],
  forward: ([x], { shape }: BroadcastToAttrs) => {
    assertValidShape("broadcastTo", shape);
    const out = broadcastShapes("broadcastTo", x.shape, shape);
    if (!shapesEqual(out, shape)) {
      throw shapeError(
        "broadcastTo",
        `cannot broadcast ${showShape(x.shape)} to ${showShape(shape)}`,
      );
    }
    if (shapesEqual(x.shape, shape)) return x;
    return produce(x.dtype, out, (buffer) => kernels().broadcastTo(x.buffer, x.shape, buffer, out));
  },
  vjp: ({ dy, inputs: [x] }) => [unbroadcast(dy, x.shape)],
  // The slice's axes line up with the target's last ones, so 1s go between them and the batch.
  batch: ({ inputs: [x], axes: [b], attrs: { shape } }): BatchResult<SingleOutput> => {
    assertValidShape("broadcastTo", shape);
    const front = batchFirst(x, b!);
    const [size, ...slice] = front.shape;
    const ones = new Array<number>(Math.max(shape.length - slice.length, 0)).fill(1);
    const lifted = reshape(front, [size!, ...ones, ...slice]);
    return { y: broadcastToOp(lifted, { shape: [size!, ...shape] }), axes: [0] };
  },
  samples: (kit) =>
    kit.broadcastPair().chain(([a, b]) => {
      const target = broadcastShapes("samples", a, b);
      return kit.tensor(a).map((x) => ({ inputs: [x], attrs: { shape: target } }));
    }),
});

/** x broadcast to `shape` by NumPy rules. Gradient: dy summed over the broadcast axes. */
export function broadcastTo(x: TensorLike, shape: readonly number[]): Tensor {
  return broadcastToOp(x, { shape });
}

/**
 * Applies a broadcasting binary kernel (the forward of every binary op and comparison); the
 * result has the promoted dtype (or `dtype`).
 */
export function binaryForward(kind: BinaryKind, a: Tensor, b: Tensor, dtype?: DType): Tensor {
  const shape = broadcastShapes(kind, a.shape, b.shape);
  let outType = dtype ?? promoteTypes(a.dtype, b.dtype);
  // True division of integers gives floats, as in NumPy.
  if (kind === "div" && outType === "int32") outType = "float32";
  return produce(
    outType,
    shape,
    (out) => kernels().binary(kind, a.buffer, a.shape, b.buffer, b.shape, out, shape),
    "unspecified",
  );
}

/** Random tensors with a random subset of axes (or all) and keepdims, for reduction ops. */
export function reduceSamples(
  kit: SampleKit,
  values: ValueOptions = {},
): SampleArbitrary<{ inputs: Tensor[]; attrs: ReduceAttrs }> {
  return kit
    .shape({ minRank: 1 })
    .chain((shape) =>
      kit.fc.tuple(
        kit.tensor(shape, values),
        kit.fc.option(kit.fc.subarray(shape.map((_, i) => i)), { nil: undefined }),
        kit.fc.boolean(),
      ),
    )
    .map(([x, axis, keepdims]) => ({ inputs: [x], attrs: { axis, keepdims } }));
}
