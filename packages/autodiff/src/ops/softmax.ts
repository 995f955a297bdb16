import { kernels } from "../backends/backend.js";
import { argumentError, shapeError, show } from "../errors.js";
import { defineOp, type BatchContext, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { normalizeAxis } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { batchFirst } from "./transpose.js";
import { mul, sub } from "./binary.js";
import { sum } from "./reduce.js";
import { exp } from "./unary.js";
import { floatTypeOf, produce } from "./util.js";

interface SoftmaxAttrs {
  readonly axis: number;
}

/** Resolves `axis` against x's rank, which must be 1 or more: normalising a scalar is meaningless. */
function softmaxAxis(op: string, rank: number, axis: unknown): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw argumentError(op, `axis must be an integer, got ${show(axis)}`);
  }
  if (rank === 0) throw shapeError(op, "x must have at least one axis, got a scalar (shape [])");
  return normalizeAxis(op, axis, rank);
}

/** softmax/logSoftmax over a batch: the batch axis in front, the slices' axis shifted past it. */
function softmaxBatch(op: string, apply: (x: Tensor, attrs: SoftmaxAttrs) => Tensor) {
  return ({ inputs: [x], axes: [b], attrs }: SoftmaxBatchContext): BatchResult<SingleOutput> => {
    const front = batchFirst(x, b!);
    return {
      y: apply(front, { axis: softmaxAxis(op, front.ndim - 1, attrs.axis) + 1 }),
      axes: [0],
    };
  };
}

type SoftmaxBatchContext = BatchContext<readonly ["x"], SoftmaxAttrs>;

/** Any tensor of rank ≥ 1 with an axis given either way round (−rank…rank−1). */
function softmaxSamples(kit: SampleKit) {
  return kit
    .shape({ minRank: 1 })
    .chain((shape) =>
      kit.fc.tuple(
        kit.tensor(shape),
        kit.fc.integer({ min: -shape.length, max: shape.length - 1 }),
      ),
    )
    .map(([x, axis]) => ({ inputs: [x], attrs: { axis } }));
}

// int32 inputs compute in float32, as exp does (and as NumPy/JAX promote): the result is a
// probability, never an integer, and rejecting labels-as-logits would only add a cast.
const softmaxOp = defineOp({
  name: "softmax",
  inputs: ["x"],
  forward: ([x], { axis }: SoftmaxAttrs) => {
    const along = softmaxAxis("softmax", x.ndim, axis);
    return produce(floatTypeOf(x), x.shape, (out) =>
      kernels().softmax(x.buffer, x.shape, along, out),
    );
  },
  vjp: ({ dy, y, attrs: { axis } }) => [mul(y, sub(dy, sum(mul(dy, y), { axis, keepdims: true })))],
  batch: softmaxBatch("softmax", (x, attrs): Tensor => softmaxOp(x, attrs)),
  samples: softmaxSamples,
});

const logSoftmaxOp = defineOp({
  name: "logSoftmax",
  inputs: ["x"],
  forward: ([x], { axis }: SoftmaxAttrs) => {
    const along = softmaxAxis("logSoftmax", x.ndim, axis);
    return produce(floatTypeOf(x), x.shape, (out) =>
      kernels().logSoftmax(x.buffer, x.shape, along, out),
    );
  },
  vjp: ({ dy, y, attrs: { axis } }) => [sub(dy, mul(exp(y), sum(dy, { axis, keepdims: true })))],
  batch: softmaxBatch("logSoftmax", (x, attrs): Tensor => logSoftmaxOp(x, attrs)),
  samples: softmaxSamples,
});

/**
 * exp(x − max) / Σ exp(x − max) along `axis` (default last), stable for any finite x; int32
 * computes in float32. −Infinity entries get 0 (masking), but a row that is −Infinity
 * throughout has no distribution and gives NaN, as in PyTorch and JAX; anomaly mode names it.
 * Gradient: y·(dy − Σ dy·y) along the axis.
 */
export function softmax(x: TensorLike, axis = -1): Tensor {
  return softmaxOp(x, { axis });
}

/**
 * x − logSumExp(x) along `axis` (default last), stable for any finite x; int32 computes in
 * float32. A row that is −Infinity throughout gives NaN, as softmax does. Gradient:
 * dy − exp(y)·Σ dy along the axis.
 */
export function logSoftmax(x: TensorLike, axis = -1): Tensor {
  return logSoftmaxOp(x, { axis });
}
