import { kernels } from "../backends/backend.js";
import { defineOp } from "../registry.js";
import { normalizeAxes } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { mul } from "./binary.js";
import { broadcastTo, reshape } from "./reshape.js";
import { produce } from "./util.js";

/** Which axes a reduction runs over (all when omitted) and whether they stay as size 1. */
export interface ReduceAttrs {
  readonly axis?: number | readonly number[];
  readonly keepdims?: boolean;
}

/** The shapes of a reduction: with the reduced axes kept as 1, and as returned. */
export function reducedShapes(op: string, shape: readonly number[], attrs: ReduceAttrs) {
  const axes = normalizeAxes(op, attrs.axis, shape.length);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = attrs.keepdims ? kept : shape.filter((_, i) => !axes.includes(i));
  return { axes, kept, out };
}

/** Brings a reduced gradient back to the input's shape: restore size-1 axes, then broadcast. */
export function expandReduced(g: Tensor, x: Tensor, attrs: ReduceAttrs, op: string): Tensor {
  const { kept } = reducedShapes(op, x.shape, attrs);
  return broadcastTo(reshape(g, kept), x.shape);
}

const sumOp = defineOp({
  name: "sum",
  inputs: ["x"],
  forward: ([x], attrs: ReduceAttrs) => {
    const { axes, out } = reducedShapes("sum", x.shape, attrs);
    // Summing int32 stays int32, like NumPy; floats keep their precision.
    return produce(x.dtype, out, (buffer) => kernels().reduce("sum", x.buffer, x.shape, axes, buffer));
  },
  vjp: ({ dy, inputs: [x], attrs }) => [expandReduced(dy, x, attrs, "sum")],
  samples: (kit) => reduceSamples(kit),
});

/** Sum over `axis` (all axes by default). Gradient: dy broadcast back over the summed axes. */
export function sum(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  return sumOp(x, attrs);
}

/** Mean over `axis` (all axes by default). Gradient: dy/n broadcast back. */
export function mean(x: TensorLike, attrs: ReduceAttrs = {}): Tensor {
  const s = sum(x, attrs);
  const shape = typeof x === "number" ? [] : x.shape;
  const { axes } = reducedShapes("mean", shape, attrs);
  let n = 1;
  for (const a of axes) n *= shape[a]!;
  return mul(s, 1 / n);
}

/** Random tensors with a random subset of axes (or all) and keepdims, for reduction ops. */
export function reduceSamples(kit: import("../sampling.js").SampleKit, values = {}) {
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
