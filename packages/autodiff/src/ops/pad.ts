import { kernels } from "../backends/backend.js";
import { argumentError, dtypeError, show, showShape } from "../errors.js";
import { assertSizeWithinLimit } from "../shape.js";
import { defineOp } from "../registry.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { slice } from "./slice.js";
import { produce } from "./util.js";

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
