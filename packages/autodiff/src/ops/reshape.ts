import { argumentError, shapeError, show, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import { normalizeAxis, shapeSize } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { batchFirst } from "./transpose.js";

interface ReshapeAttrs {
  readonly shape: readonly number[];
}

/** Resolves one −1 in `shape` from the element count, and checks the counts agree. */
export function resolveShape(
  op: string,
  from: readonly number[],
  shape: readonly number[],
): number[] {
  if (!Array.isArray(shape)) {
    throw argumentError(op, `shape must be an array of integers, got ${show(shape)}`);
  }
  const size = shapeSize(from);
  const unknown = shape.indexOf(-1);
  if (shape.some((d, i) => !Number.isSafeInteger(d) || d < -1 || (d === -1 && i !== unknown))) {
    throw argumentError(
      op,
      `shape must hold non-negative integers and at most one -1, got ${showShape(shape)}`,
    );
  }
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const out = [...shape];
  if (unknown >= 0) {
    if (known === 0 || size % known !== 0) {
      throw shapeError(
        op,
        `cannot reshape ${showShape(from)} (${size} elements) to ${showShape(shape)}`,
      );
    }
    out[unknown] = size / known;
  }
  if (shapeSize(out) !== size) {
    throw shapeError(
      op,
      `cannot reshape ${showShape(from)} (${size} elements) to ${showShape(shape)}`,
    );
  }
  return out;
}

const reshapeOp = defineOp({
  name: "reshape",
  inputs: ["x"],
  // Row-major data is unchanged by a reshape, so the result shares x's buffer.
  forward: ([x], { shape }: ReshapeAttrs) =>
    new Tensor(x.buffer, resolveShape("reshape", x.shape, shape)),
  vjp: ({ dy, inputs: [x] }) => [reshape(dy, x.shape)],
  // A one-input op's rule runs only with its input mapped; −1 is resolved against one slice.
  batch: ({ inputs: [x], axes: [b], size, attrs: { shape } }): BatchResult<SingleOutput> => {
    const front = batchFirst(x, b!);
    const sliceShape = resolveShape("reshape", front.shape.slice(1), shape);
    return { y: reshape(front, [size, ...sliceShape]), axes: [0] };
  },
  samples: (kit) =>
    kit.anyTensor().chain((x) =>
      kit.fc.shuffledSubarray([...x.shape], { minLength: x.shape.length }).map((shape) => ({
        inputs: [x],
        attrs: { shape: [...shape.slice(0, -1), -1] },
      })),
    ),
});

/** The same elements in a new shape (one axis may be −1). Gradient: dy reshaped back. */
export function reshape(x: TensorLike, shape: readonly number[]): Tensor {
  return reshapeOp(x, { shape });
}

function shapeOf(op: string, x: TensorLike): readonly number[] {
  if (typeof x === "number") return [];
  if (!(x instanceof Tensor)) {
    throw argumentError(op, `x must be a Tensor or a number, got ${show(x)}`);
  }
  return x.shape;
}

/** Inserts a size-1 axis at `axis` (negative counts from the end of the result). */
export function expandDims(x: TensorLike, axis: number): Tensor {
  const shape = [...shapeOf("expandDims", x)];
  shape.splice(normalizeAxis("expandDims", axis, shape.length + 1), 0, 1);
  return reshape(x, shape);
}

/** Removes size-1 axes: the given ones (which must have size 1), or all of them. */
export function squeeze(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const shape = shapeOf("squeeze", x);
  if (axis === undefined)
    return reshape(
      x,
      shape.filter((d) => d !== 1),
    );
  if (typeof axis !== "number" && !Array.isArray(axis)) {
    throw argumentError(
      "squeeze",
      `axis must be an integer or an array of them, got ${show(axis)}`,
    );
  }
  const axes = (typeof axis === "number" ? [axis] : axis).map((a) =>
    normalizeAxis("squeeze", a, shape.length),
  );
  for (const a of axes) {
    if (shape[a] !== 1)
      throw shapeError("squeeze", `axis ${a} of ${showShape(shape)} has size ${shape[a]}, not 1`);
  }
  return reshape(
    x,
    shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Merges axes startAxis…endAxis into one (default: all but the first, as nn layers want). */
export function flatten(x: TensorLike, startAxis = 1, endAxis = -1): Tensor {
  const shape = shapeOf("flatten", x);
  if (shape.length === 0) return reshape(x, [1]);
  const start = normalizeAxis("flatten", startAxis, shape.length);
  const end = normalizeAxis("flatten", endAxis, shape.length);
  if (start > end)
    throw argumentError("flatten", `startAxis ${startAxis} comes after endAxis ${endAxis}`);
  const merged = shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...shape.slice(0, start), merged, ...shape.slice(end + 1)]);
}
