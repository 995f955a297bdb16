import {
  allocate,
  allocateUninitialized,
  isFloat,
  type DType,
  type FloatArray,
  type TypedArray,
} from "../dtype.js";
import { argumentError, dtypeError, show } from "../errors.js";
import { live } from "../tape.js";
import { Tensor } from "../tensor.js";

/**
 * @internal A new tensor over a fresh buffer; `fill` writes the result into it. The buffer is
 * zero-filled, or with `"unspecified"` (for kernels whose interface says they write every
 * element of out) left as allocateUninitialized gives it.
 */
export function produce(
  dtype: DType,
  shape: readonly number[],
  fill: (out: TypedArray) => void,
  contents: "zeros" | "unspecified" = "zeros",
): Tensor {
  let size = 1;
  for (const d of shape) size *= d;
  const out = contents === "zeros" ? allocate(dtype, size) : allocateUninitialized(dtype, size);
  fill(out);
  return new Tensor(out, shape);
}

/**
 * @internal A new tensor over a fresh, uninitialised buffer, for a kernel that writes every
 * element: how an op with several outputs hands one kernel call all of their buffers.
 */
export function unfilled(dtype: DType, shape: readonly number[]): Tensor {
  let size = 1;
  for (const d of shape) size *= d;
  return new Tensor(allocateUninitialized(dtype, size), [...shape]);
}

/** @internal The elements of a float tensor, for a kernel; names op and argument if not float. */
export function floatData(op: string, name: string, x: Tensor): FloatArray {
  assertFloat(op, name, x);
  return x.buffer as FloatArray;
}

/** Requires a boolean attr (JavaScript callers may pass anything). */
export function booleanAttr(op: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw argumentError(op, `${name} must be a boolean, got ${show(value)}`);
  }
  return value;
}

/** Float ops compute in the input's float type; int32 inputs compute in float32. */
export function floatTypeOf(x: Tensor): DType {
  return isFloat(x.dtype) ? x.dtype : "float32";
}

/** Requires a Tensor argument (functions that take no plain numbers), naming op and argument. */
export function assertTensor(op: string, name: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw argumentError(op, `${name} must be a Tensor, got ${show(x)}`);
}

/** An options argument: `{}` when absent, else it must be a plain object. */
export function optionsArgument<T extends object>(op: string, options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(op, `options must be an object, got ${show(options)}`);
  }
  return options;
}

export function assertFloat(op: string, name: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw dtypeError(op, `${name} must be float32 or float64, got ${x.dtype}`);
}

export function assertInt(op: string, name: string, x: Tensor): void {
  if (x.dtype !== "int32") throw dtypeError(op, `${name} must be int32, got ${x.dtype}`);
}

/** Whether t is a constant of zeros: the tape's cotangent for an output that nothing used. */
export function isUnusedCotangent(t: Tensor): boolean {
  if (live(t).trace !== null) return false;
  const data = t.data;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}
