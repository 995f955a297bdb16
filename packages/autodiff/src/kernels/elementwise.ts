import type { TypedArray } from "../dtype.js";
import { forEachRow } from "./strided.js";
import {
  calerf,
  gelu,
  geluSlope,
  geluTanh,
  geluTanhSlope,
  sigmoid,
  tanh,
} from "./transcendental.js";

export type UnaryKind =
  | "neg"
  | "exp"
  | "log"
  | "log1p"
  | "sqrt"
  | "abs"
  | "sin"
  | "cos"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "leakyRelu"
  | "softplus"
  | "square"
  | "reciprocal"
  | "sign"
  | "step"
  | "erf"
  /** Exact GELU, x·Φ(x). */
  | "gelu"
  /** GELU's tanh approximation (PyTorch's approximate='tanh'). */
  | "geluTanh";

export type BinaryKind =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "equal"
  | "notEqual"
  | "less"
  | "lessEqual"
  | "greater"
  | "greaterEqual"
  /** a·step(b): relu's gradient dy·[x > 0], as one pass. */
  | "reluGrad"
  /** a·gelu′(b): exact GELU's gradient dy·(Φ(x) + x·φ(x)), as one pass. */
  | "geluGrad"
  /** a·gelu′(b) for GELU's tanh form. */
  | "geluTanhGrad";

/** out arrives with unspecified contents (ops do not zero-fill it): every element is written. */
export interface ElementwiseKernels {
  /** out[i] = f(x[i]); `alpha` parameterises leakyRelu's negative slope. */
  unary(kind: UnaryKind, x: TypedArray, out: TypedArray, alpha: number): void;
  /** out = a ∘ b with NumPy broadcasting of aShape and bShape to outShape. */
  binary(
    kind: BinaryKind,
    a: TypedArray,
    aShape: readonly number[],
    b: TypedArray,
    bShape: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
  ): void;
  /** out = cond ≠ 0 ? a : b, all three broadcast to outShape. */
  where(
    cond: TypedArray,
    condShape: readonly number[],
    a: TypedArray,
    aShape: readonly number[],
    b: TypedArray,
    bShape: readonly number[],
    out: TypedArray,
    outShape: readonly number[],
  ): void;
}

/**
 * The value of a unary kind at one element, in float64 (the caller rounds it to its output's
 * dtype): what the kernels below compute, and what jit's fused passes call.
 */
export function unaryScalar(kind: UnaryKind, alpha: number): (v: number) => number {
  switch (kind) {
    case "neg":
      return (v) => -v;
    case "exp":
      return Math.exp;
    case "log":
      return Math.log;
    case "log1p":
      return Math.log1p;
    case "sqrt":
      return Math.sqrt;
    case "abs":
      return Math.abs;
    case "sin":
      return Math.sin;
    case "cos":
      return Math.cos;
    case "tanh":
      return tanh;
    case "sigmoid":
      return sigmoid;
    case "relu":
      return (v) => (v > 0 ? v : 0);
    case "leakyRelu":
      return (v) => (v > 0 ? v : alpha * v);
    case "softplus":
      // log(1 + e^v) = max(v, 0) + log1p(e^−|v|), exact for large |v|.
      return (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    case "square":
      return (v) => v * v;
    case "reciprocal":
      return (v) => 1 / v;
    case "sign":
      return Math.sign;
    case "step":
      return (v) => (v > 0 ? 1 : 0);
    case "erf":
      return (v) => calerf(v, false);
    case "gelu":
      return gelu;
    case "geluTanh":
      return geluTanh;
  }
}

function unary(kind: UnaryKind, x: TypedArray, out: TypedArray, alpha: number): void {
  const n = x.length;
  // The hottest kinds get loops of their own; the rest go through one call per element.
  if (kind === "relu") {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      out[i] = v > 0 ? v : 0;
    }
    return;
  }
  if (kind === "neg") {
    for (let i = 0; i < n; i++) out[i] = -x[i]!;
    return;
  }
  const f = unaryScalar(kind, alpha);
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
}

type Combine = (a: number, b: number) => number;

/** The value of a binary kind at one element, in float64, as unaryScalar. */
export function binaryScalar(kind: BinaryKind): Combine {
  switch (kind) {
    case "add":
      return (a, b) => a + b;
    case "sub":
      return (a, b) => a - b;
    case "mul":
      return (a, b) => a * b;
    case "div":
      return (a, b) => a / b;
    case "pow":
      return Math.pow;
    case "maximum":
      return (a, b) => (a >= b || Number.isNaN(a) ? a : b);
    case "minimum":
      return (a, b) => (a <= b || Number.isNaN(a) ? a : b);
    case "equal":
      return (a, b) => (a === b ? 1 : 0);
    case "notEqual":
      return (a, b) => (a !== b ? 1 : 0);
    case "less":
      return (a, b) => (a < b ? 1 : 0);
    case "lessEqual":
      return (a, b) => (a <= b ? 1 : 0);
    case "greater":
      return (a, b) => (a > b ? 1 : 0);
    case "greaterEqual":
      return (a, b) => (a >= b ? 1 : 0);
    case "reluGrad":
      return (a, b) => a * (b > 0 ? 1 : 0);
    case "geluGrad":
      return (a, b) => a * geluSlope(b);
    case "geluTanhGrad":
      return (a, b) => a * geluTanhSlope(b);
  }
}

function binary(
  kind: BinaryKind,
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  // Same-shape and scalar operands are the common cases: one row, no index arithmetic.
  if (a.length === out.length && b.length === out.length) {
    binaryRow(kind, a, 0, 1, b, 0, 1, out, 0, out.length);
    return;
  }
  if (b.length === 1 && a.length === out.length) {
    binaryRow(kind, a, 0, 1, b, 0, 0, out, 0, out.length);
    return;
  }
  if (a.length === 1 && b.length === out.length) {
    binaryRow(kind, a, 0, 0, b, 0, 1, out, 0, out.length);
    return;
  }
  forEachRow([aShape, bShape], outShape, (offsets, o, n, steps) =>
    binaryRow(kind, a, offsets[0]!, steps[0]!, b, offsets[1]!, steps[1]!, out, o, n),
  );
}

/**
 * out[o + i] = a[ia + i·sa] ∘ b[ib + i·sb] for i < n, with the common kinds written out (a call
 * through a function per element costs several times the arithmetic).
 */
function binaryRow(
  kind: BinaryKind,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  out: TypedArray,
  o: number,
  n: number,
): void {
  const end = o + n;
  switch (kind) {
    case "add":
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! + b[ib]!;
      return;
    case "sub":
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! - b[ib]!;
      return;
    case "mul":
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! * b[ib]!;
      return;
    case "div":
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! / b[ib]!;
      return;
    case "reluGrad":
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! * (b[ib]! > 0 ? 1 : 0);
      return;
    default: {
      const f = binaryScalar(kind);
      for (; o < end; o++, ia += sa, ib += sb) out[o] = f(a[ia]!, b[ib]!);
    }
  }
}

function where(
  cond: TypedArray,
  condShape: readonly number[],
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  forEachRow([condShape, aShape, bShape], outShape, (offsets, o, n, steps) => {
    let ic = offsets[0]!;
    let ia = offsets[1]!;
    let ib = offsets[2]!;
    for (let i = 0; i < n; i++, ic += steps[0]!, ia += steps[1]!, ib += steps[2]!) {
      out[o + i] = cond[ic] !== 0 ? a[ia]! : b[ib]!;
    }
  });
}

export const jsElementwiseKernels: ElementwiseKernels = { unary, binary, where };
