import { allocate, dtypeOfArray, isDType, type DType, type TypedArray } from "./dtype.js";
import { TapegradError, argumentError, show, showShape } from "./errors.js";
import { assertValidShape, shapeSize, type Shape } from "./shape.js";
import type { Interpreter, Trace, TapeNode } from "./tape.js";

/** A number or nested arrays of numbers, as `tensor` takes them and `toArray` returns them. */
export type NestedArray = number | NestedArray[];
/** Anything an op accepts where a tensor is expected: plain numbers become scalars. */
export type TensorLike = Tensor | number;

/**
 * An immutable n-dimensional array in row-major order. Tensors are plain values: they are
 * garbage-collected like any object and never need disposing.
 *
 * While a transform such as `grad` traces a function, the tensors it sees are the same values
 * wrapped for one trace level: `inner` is the value one level down and `node` the tape entry
 * that produced it. User code never needs to tell the two apart.
 */
export class Tensor {
  /** The size of each axis; [] for a scalar. */
  readonly shape: readonly number[];
  /** The element type: float32, float64 or int32. */
  readonly dtype: DType;
  /** The number of elements, the product of the shape. */
  readonly size: number;
  /** @internal The row-major elements, shared by every trace-level view of this value. */
  readonly buffer: TypedArray;
  /** @internal The trace this view belongs to, or null for a plain value. */
  readonly trace: Trace | null;
  /** @internal The same value one trace level down. */
  readonly inner: Tensor | null;
  /** @internal The tape entry that produced this view (null for a traced input). */
  readonly node: TapeNode | null;
  /** @internal Which of node's outputs this view is (0 for an op with one output). */
  readonly output: number;
  /**
   * @internal For a view of a vmap level: the axis of `inner` that the level maps over (this
   * view's shape is inner's without it, and its buffer holds no elements). Else null.
   */
  readonly batchAxis: number | null;

  /** @internal Use `tensor`, `zeros`, … to create tensors. */
  constructor(
    buffer: TypedArray,
    shape: readonly number[],
    trace: Trace | null = null,
    inner: Tensor | null = null,
    node: TapeNode | null = null,
    output = 0,
    batchAxis: number | null = null,
  ) {
    this.buffer = buffer;
    this.shape = shape;
    this.dtype = dtypeOfArray(buffer);
    this.size = shapeSize(shape);
    this.trace = trace;
    this.inner = inner;
    this.node = node;
    this.output = output;
    this.batchAxis = batchAxis;
  }

  /**
   * A copy of the elements in row-major order, as a typed array of the tensor's dtype. Writing
   * to it never changes the tensor: tensors are values, and the tape may hold this one for a
   * gradient. Each read makes a new copy, so read it once, outside loops.
   */
  get data(): TypedArray {
    return this.elements("data").slice();
  }

  /** The number of axes, shape.length. */
  get ndim(): number {
    return this.shape.length;
  }

  /** The elements as nested arrays (a number for a scalar). */
  toArray(): NestedArray {
    return nest(this.elements("toArray"), this.shape, 0, 0);
  }

  /** The single element of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw argumentError(
        "item",
        `expected a tensor with one element, got shape ${showShape(this.shape)}`,
      );
    }
    return this.elements("item")[0]!;
  }

  /** `Tensor(float32[2,3] [[…]])`: dtype, shape and the elements as nested arrays. */
  toString(): string {
    const values =
      this.buffer.length === this.size ? JSON.stringify(this.toArray()) : "mapped by vmap";
    return `Tensor(${this.dtype}${showShape(this.shape)} ${values})`;
  }

  /**
   * The elements, for the readers above. Inside vmap a tensor stands for one slice of a batch and
   * has no elements of its own to read; inside jit it stands for the value of every later call
   * too: reading them is an error, as it is in JAX.
   */
  private elements(reader: string): TypedArray {
    tracingLevel(this)?.checkRead!(reader);
    checkNotDonated(reader, this);
    if (this.buffer.length !== this.size) {
      throw new TapegradError(
        "INVALID_STATE",
        `${reader}: this tensor is mapped by vmap (one slice of a batch), so its values cannot ` +
          `be read inside the mapped function; return it from the function to read the batch`,
      );
    }
    return this.buffer;
  }
}

const donated = new WeakSet<Tensor>();
/** @internal Whether any tensor was ever donated: the checks cost nothing until one is. */
export let anyDonated = false;

/**
 * @internal Marks x as donated to a jitted call (donateArgnums): its buffer may hold the call's
 * results now, so reading it or applying an op to it is an error.
 */
export function markDonated(x: Tensor): void {
  donated.add(x);
  anyDonated = true;
}

/** @internal Throws, naming `where`, if x was donated to a jitted call. */
export function checkNotDonated(where: string, x: Tensor): void {
  if (anyDonated && donated.has(x)) {
    throw new TapegradError(
      "INVALID_STATE",
      `${where}: this tensor was donated to a jitted function (donateArgnums), whose results may ` +
        `have been written over it; use the function's results instead`,
    );
  }
}

/** The open level under x whose values stand for later calls' values too (jit's), or null. */
function tracingLevel(x: Tensor): Interpreter | null {
  for (let v: Tensor | null = x; v !== null && v.trace !== null; v = v.inner) {
    const interpreter = v.trace.interpreter;
    if (v.trace.active && interpreter?.checkRead !== undefined) return interpreter;
  }
  return null;
}

/**
 * Whether x's values cannot be read where the code runs: inside vmap it stands for one slice of
 * a batch, inside jit for the value of every later call too. Code that validates values (label
 * ranges, say) leaves that to the ops for such a tensor.
 */
export function isAbstract(x: Tensor): boolean {
  return x.buffer.length !== x.size || tracingLevel(x) !== null;
}

function nest(data: TypedArray, shape: Shape, axis: number, offset: number): NestedArray {
  if (axis === shape.length) return data[offset]!;
  const n = shape[axis]!;
  const step = shapeSize(shape.slice(axis + 1));
  const out: NestedArray[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = nest(data, shape, axis + 1, offset + i * step);
  return out;
}

/** @internal Wraps a buffer without copying or validation; for ops and kernels' results. */
export function fromBuffer(buffer: TypedArray, shape: readonly number[]): Tensor {
  return new Tensor(buffer, shape);
}

/** Options of `tensor`: the dtype to store and a shape for flat data. */
export interface TensorOptions {
  /** Default: the typed array's dtype, else float32. */
  dtype?: DType;
  /** The shape to give flat values (their count must match); default: the values' nesting. */
  shape?: readonly number[];
  /**
   * Default true. false: a typed array already of the tensor's dtype becomes its storage as it
   * is, with no copy — for large data the caller made and will not modify afterwards (tensors
   * are values). Other input is copied either way.
   */
  copy?: boolean;
}

/**
 * Creates a tensor from a number, nested arrays or a typed array (copied unless `copy: false`).
 * The dtype defaults to the typed array's, else float32; `shape` reshapes flat data.
 */
export function tensor(
  values: NestedArray | TypedArray | readonly number[],
  options: TensorOptions = {},
): Tensor {
  if (options.dtype !== undefined && !isDType(options.dtype)) {
    throw argumentError(
      "tensor",
      `dtype must be float32, float64 or int32, got ${show(options.dtype)}`,
    );
  }
  const isTyped = ArrayBuffer.isView(values);
  const dtype = options.dtype ?? (isTyped ? dtypeOfArray(values as TypedArray) : "float32");
  let inferred: number[];
  let flat: ArrayLike<number>;
  if (isTyped) {
    flat = values as TypedArray;
    inferred = [flat.length];
  } else {
    inferred = inferShape(values as NestedArray);
    const out: number[] = [];
    flatten(values as NestedArray, inferred, 0, out);
    flat = out;
  }
  const shape = options.shape ? [...options.shape] : inferred;
  assertValidShape("tensor", shape);
  if (shapeSize(shape) !== flat.length) {
    throw argumentError(
      "tensor",
      `shape ${showShape(shape)} needs ${shapeSize(shape)} elements, got ${flat.length}`,
    );
  }
  if (options.copy === false && isTyped && dtypeOfArray(values as TypedArray) === dtype) {
    return new Tensor(values as TypedArray, shape);
  }
  const buffer = allocate(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (typeof v !== "number")
      throw argumentError("tensor", `element ${i} is not a number: ${show(v)}`);
    buffer[i] = v;
  }
  return new Tensor(buffer, shape);
}

function inferShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  return shape;
}

function flatten(values: NestedArray, shape: number[], axis: number, out: number[]): void {
  if (axis === shape.length) {
    if (Array.isArray(values)) throw argumentError("tensor", "nested arrays are ragged");
    out.push(values);
    return;
  }
  if (!Array.isArray(values) || values.length !== shape[axis]) {
    throw argumentError(
      "tensor",
      `nested arrays are ragged at depth ${axis}: expected length ${shape[axis]}`,
    );
  }
  for (const v of values) flatten(v, shape, axis + 1, out);
}

/** A tensor of `shape` with every element equal to `value`. */
export function full(shape: readonly number[], value: number, dtype: DType = "float32"): Tensor {
  assertValidShape("full", shape);
  const buffer = allocate(dtype, shapeSize(shape));
  if (!Object.is(value, 0)) buffer.fill(value);
  return new Tensor(buffer, [...shape]);
}

/** A tensor of `shape` filled with 0. */
export function zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
  return full(shape, 0, dtype);
}

/** A tensor of `shape` filled with 1. */
export function ones(shape: readonly number[], dtype: DType = "float32"): Tensor {
  return full(shape, 1, dtype);
}

/** Zeros with x's shape (and dtype, unless given). */
export function zerosLike(x: Tensor, dtype: DType = x.dtype): Tensor {
  return full(x.shape, 0, dtype);
}

/** Ones with x's shape (and dtype, unless given). */
export function onesLike(x: Tensor, dtype: DType = x.dtype): Tensor {
  return full(x.shape, 1, dtype);
}

/** `[start, start + step, …)` up to but excluding `stop`; `arange(n)` counts from 0. */
export function arange(start: number, stop?: number, step = 1, dtype: DType = "float32"): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (!Number.isFinite(start) || !Number.isFinite(stop) || !Number.isFinite(step) || step === 0) {
    throw argumentError(
      "arange",
      `start, stop and step must be finite and step non-zero, got ${start}, ${stop}, ${step}`,
    );
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const buffer = allocate(dtype, n);
  for (let i = 0; i < n; i++) buffer[i] = start + i * step;
  return new Tensor(buffer, [n]);
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m = n, dtype: DType = "float32"): Tensor {
  assertValidShape("eye", [n, m]);
  const buffer = allocate(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) buffer[i * m + i] = 1;
  return new Tensor(buffer, [n, m]);
}

/** Whether `value` is a Tensor (including a traced view inside a transform). */
export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}
