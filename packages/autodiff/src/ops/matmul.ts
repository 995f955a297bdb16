import { kernels } from "../backends/backend.js";
import { allocateUninitialized, isFloat, type FloatArray, type FloatDType } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { shapeSize, shapesEqual, type Shape } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { reshape } from "./reshape.js";
import { unbroadcast } from "./broadcast.js";
import { batchFirst } from "./transpose.js";

/**
 * Optional transposes of the last two axes of a or b (both operands must then be at least 2-D).
 * They cost nothing: the kernel reads the operand transposed, and the vjp uses them itself.
 */
export interface MatmulAttrs {
  /** Use the transpose of a's last two axes (default false). */
  readonly transA?: boolean;
  /** Use the transpose of b's last two axes (default false). */
  readonly transB?: boolean;
}

/** The shapes of one product, with 1-D operands promoted to matrices as NumPy does. */
interface MatmulShapes {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** Broadcast batch shape of the two operands. */
  readonly batch: Shape;
  /** a as a (batched) matrix in its stored layout: [k] becomes [1,k]. */
  readonly a2: Shape;
  /** b as a (batched) matrix in its stored layout: [k] becomes [k,1]. */
  readonly b2: Shape;
  /** The result as batch + [m, n], before the axes of 1-D operands are dropped. */
  readonly y2: Shape;
  /** The result's shape: y2 without the m axis if a is 1-D and without n if b is 1-D. */
  readonly y: Shape;
}

/** Validates a product's shapes and works out every shape its forward and vjp need. */
function analyse(a: Shape, b: Shape, transA: boolean, transB: boolean): MatmulShapes {
  if (a.length === 0) throw shapeError("matmul", "a must be at least 1-D, got shape []");
  if (b.length === 0) throw shapeError("matmul", "b must be at least 1-D, got shape []");
  if (transA && a.length < 2) {
    throw argumentError("matmul", `transA needs a of rank 2 or more, got shape ${showShape(a)}`);
  }
  if (transB && b.length < 2) {
    throw argumentError("matmul", `transB needs b of rank 2 or more, got shape ${showShape(b)}`);
  }
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const [ar, ac] = a2.slice(-2) as [number, number];
  const [br, bc] = b2.slice(-2) as [number, number];
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    const show = (shape: Shape, flag: string) => `${showShape(shape)}${flag ? ` (${flag})` : ""}`;
    const shownA = show(a, transA ? "transA" : "");
    const shownB = show(b, transB ? "transB" : "");
    throw shapeError("matmul", `inner dimensions differ: a is ${shownA}, b is ${shownB}`);
  }
  const batch = broadcastBatch(a, b, a2.slice(0, -2), b2.slice(0, -2));
  const y2 = [...batch, m, n];
  const y = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  return { m, k, n, batch, a2, b2, y2, y };
}

/** NumPy broadcasting of the batch axes (all but the last two), named after the full shapes. */
function broadcastBatch(a: Shape, b: Shape, batchA: Shape, batchB: Shape): number[] {
  const rank = Math.max(batchA.length, batchB.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = batchA[i - rank + batchA.length] ?? 1;
    const db = batchB[i - rank + batchB.length] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw shapeError(
        "matmul",
        `batch dimensions cannot be broadcast together: a is ${showShape(a)}, b is ${showShape(b)}`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Where each matrix of an operand with batch shape `own` starts, for every index of the
 * broadcast `batch` in row-major order: a size-1 or missing axis repeats the same matrix.
 */
function batchOffsets(batch: Shape, own: Shape, matrixSize: number): number[] {
  const rank = batch.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = matrixSize;
  for (let i = own.length - 1; i >= 0; i--) {
    if (own[i] !== 1) strides[rank - own.length + i] = stride;
    stride *= own[i]!;
  }
  const count = shapeSize(batch);
  const offsets = new Array<number>(count);
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let e = 0; e < count; e++) {
    offsets[e] = offset;
    // Odometer increment over the batch axes, last axis fastest.
    for (let axis = rank - 1; axis >= 0; axis--) {
      offset += strides[axis]!;
      if (++index[axis]! < batch[axis]!) break;
      offset -= strides[axis]! * batch[axis]!;
      index[axis] = 0;
    }
  }
  return offsets;
}

/** x's elements as `dtype` (int32 and float32 widen; the buffer itself when it already is). */
function floatData(x: Tensor, dtype: FloatDType): FloatArray {
  const data = x.buffer;
  if (dtype === "float64") return data instanceof Float64Array ? data : Float64Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function flags(attrs: MatmulAttrs): [boolean, boolean] {
  const { transA = false, transB = false } = attrs;
  if (typeof transA !== "boolean" || typeof transB !== "boolean") {
    const got = `${show(transA)} and ${show(transB)}`;
    throw argumentError("matmul", `transA and transB must be booleans, got ${got}`);
  }
  return [transA, transB];
}

function forward(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  const [transA, transB] = flags(attrs);
  const s = analyse(a.shape, b.shape, transA, transB);
  // float64 wins; float32 and int32 compute in float32, as every float op does with int32.
  const dtype: FloatDType = a.dtype === "float64" || b.dtype === "float64" ? "float64" : "float32";
  const size = shapeSize(s.y);
  // Not zero-filled: the kernel writes every element of C.
  const out = allocateUninitialized(dtype, size) as FloatArray;
  const aOffsets = batchOffsets(s.batch, s.a2.slice(0, -2), s.m * s.k);
  const bOffsets = batchOffsets(s.batch, s.b2.slice(0, -2), s.k * s.n);
  const aData = floatData(a, dtype);
  const bData = floatData(b, dtype);
  kernels().matmul(aData, aOffsets, bData, bOffsets, out, s.m, s.k, s.n, transA, transB);
  return new Tensor(out, s.y);
}

function reshapeTo(x: Tensor, shape: Shape): Tensor {
  return shapesEqual(x.shape, shape) ? x : reshape(x, shape);
}

const TA: MatmulAttrs = { transA: true };
const TB: MatmulAttrs = { transB: true };
const TAB: MatmulAttrs = { transA: true, transB: true };

/**
 * The gradient of the stored A of y = op(A)·op(B) (before summing broadcast batch axes):
 * dy·op(B)ᵀ, transposed back when A is; each case is one matmul with the right flags.
 */
function gradA(g: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  if (!transA) return transB ? matmul(g, b) : matmul(g, b, TB);
  return transB ? matmul(b, g, TAB) : matmul(b, g, TB);
}

/** The gradient of the stored B: op(A)ᵀ·dy, transposed back when B is. */
function gradB(g: Tensor, a: Tensor, transA: boolean, transB: boolean): Tensor {
  if (!transB) return transA ? matmul(a, g) : matmul(a, g, TA);
  return transA ? matmul(g, a, TAB) : matmul(g, a, TA);
}

function samples(kit: SampleKit) {
  const { fc } = kit;
  const dim = fc.integer({ min: 1, max: 5 });
  // About one operand in four is a vector, so every 1-D case comes up often.
  const vector = fc.integer({ min: 0, max: 3 }).map((x) => x === 0);
  return fc
    .record({
      m: dim,
      k: dim,
      n: dim,
      aVec: vector,
      bVec: vector,
      transA: fc.boolean(),
      transB: fc.boolean(),
      batches: kit.broadcastPair({ maxRank: 2, maxDim: 3 }),
    })
    .chain(({ m, k, n, aVec, bVec, transA, transB, batches: [batchA, batchB] }) => {
      const ta = transA && !aVec;
      const tb = transB && !bVec;
      const aShape = aVec ? [k] : [...batchA, ...(ta ? [k, m] : [m, k])];
      const bShape = bVec ? [k] : [...batchB, ...(tb ? [n, k] : [k, n])];
      return fc
        .tuple(kit.tensor(aShape), kit.tensor(bShape))
        .map(([a, b]) => ({ inputs: [a, b], attrs: { transA: ta, transB: tb } }));
    });
}

const matmulOp = defineOp({
  name: "matmul",
  inputs: ["a", "b"],
  forward: ([a, b], attrs: MatmulAttrs) => forward(a, b, attrs),
  vjp: ({ dy, inputs: [a, b], attrs, needsGrad }) => {
    const [transA, transB] = flags(attrs);
    const s = analyse(a.shape, b.shape, transA, transB);
    // Work on the promoted matrices; 1-D operands get their axis back by the final reshape.
    const a2 = reshapeTo(a, s.a2);
    const b2 = reshapeTo(b, s.b2);
    const g = reshapeTo(dy, s.y2);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needsGrad[0] && isFloat(a.dtype)) {
      da = reshape(unbroadcast(gradA(g, b2, transA, transB), s.a2), a.shape);
    }
    if (needsGrad[1] && isFloat(b.dtype)) {
      if (s.b2.length === 2 && s.a2.length > 2 && !transA) {
        // One B shared by a batch of A (a linear layer): fold the batch into rows, so op(A)ᵀ·dy
        // is one product instead of a batch of them summed afterwards.
        const rows = shapeSize(s.batch) * s.m;
        db = gradB(reshape(g, [rows, s.n]), reshape(a2, [rows, s.k]), false, transB);
      } else {
        db = unbroadcast(gradB(g, a2, transA, transB), s.b2);
      }
      db = reshape(db, b.shape);
    }
    return [da, db];
  },
  // One product over the whole batch: each mapped operand's batch axis becomes its first batch
  // axis, 1s after it lining up the slices' own batch axes; a mapped vector becomes a row (a) or
  // column (b) matrix, and the final reshape drops that axis as the slices' product does.
  batch: ({ inputs: [a, b], axes: [axisA, axisB], size, attrs }): BatchResult<SingleOutput> => {
    const [transA, transB] = flags(attrs);
    const sliceA = axisA === null ? a.shape : a.shape.filter((_, i) => i !== axisA);
    const sliceB = axisB === null ? b.shape : b.shape.filter((_, i) => i !== axisB);
    const rank = Math.max(sliceA.length, sliceB.length, 2);
    const lift = (x: Tensor, axis: number | null, asMatrix: (v: number) => number[]) => {
      if (axis === null) return x;
      const slice = x.shape.filter((_, i) => i !== axis);
      const matrix = slice.length === 1 ? asMatrix(slice[0]!) : slice;
      const ones = new Array<number>(rank - matrix.length).fill(1);
      return reshape(batchFirst(x, axis), [size, ...ones, ...matrix]);
    };
    const y = matmulOp(
      lift(a, axisA, (k) => [1, k]),
      lift(b, axisB, (k) => [k, 1]),
      attrs,
    );
    return { y: reshapeTo(y, [size, ...analyse(sliceA, sliceB, transA, transB).y]), axes: [0] };
  },
  samples,
});

/**
 * NumPy matmul: 1-D operands act as a row (a) or column (b) vector whose axis is then dropped,
 * and batch axes broadcast ([2,1,3,4]@[5,4,6] → [2,5,3,6]); int32 computes in float32.
 * Gradient: dA = dy·Bᵀ, dB = Aᵀ·dy, summed over broadcast batch axes.
 */
export function matmul(a: TensorLike, b: TensorLike, attrs?: MatmulAttrs): Tensor {
  return matmulOp(a, b, attrs);
}
