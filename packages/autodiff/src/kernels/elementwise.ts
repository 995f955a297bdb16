import type { TypedArray } from "../dtype.js";
import { forEachRow } from "./strided.js";

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
  | "reluGrad";

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

function unaryFunction(kind: UnaryKind, alpha: number): (v: number) => number {
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
      return Math.tanh;
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
      // x·Φ(x) with Φ(x) = ½·erfc(−x/√2): erfc keeps the tail for x ≪ 0, where 1 + erf(x/√2)
      // would cancel.
      return (v) => 0.5 * v * calerf(-v * Math.SQRT1_2, true);
    case "geluTanh":
      // ½(1 + tanh u) = sigmoid(2u), which does not cancel for x ≪ 0 as 1 + tanh u would.
      return (v) => v * sigmoid(2 * GELU_TANH_SCALE * (v + GELU_TANH_CUBIC * v * v * v));
  }
}

/** 1/(1 + e^−v), in two branches so that exp never overflows: for v < 0, e^v/(1 + e^v). */
function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** √(2/π), the scale of GELU's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export const GELU_TANH_SCALE = Math.sqrt(2 / Math.PI);
/** 0.044715, the cubic coefficient of GELU's tanh approximation (Hendrycks & Gimpel, 2016). */
export const GELU_TANH_CUBIC = 0.044715;

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
// 631–638, with the coefficients of his SPECFUN routine CALERF (netlib.org/specfun/erf): erf on
// |x| ≤ 0.46875, erfc·exp(x²) on 0.46875 < |x| ≤ 4 and, as a rational function of 1/x², beyond;
// accurate to double precision in each range.
const ERF_A = [
  3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947,
  0.185777706184603153,
];
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERFC_C = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131,
  881.95222124176909, 1712.04761263407058, 2051.07837782607147, 1230.33935479799725,
  2.15311535474403846e-8,
];
const ERFC_D = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019,
  3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERFC_P = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766,
  6.58749161529837803e-4, 0.0163153871373020978,
];
const ERFC_Q = [
  2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191,
  0.00233520497626869185,
];
/** 1/√π. */
const FRAC_1_SQRT_PI = 0.56418958354775628695;
/** erfc(x) underflows to 0 beyond this (CALERF's XBIG). */
const ERFC_UNDERFLOW = 26.543;

/** erf(x), or erfc(x) when `complement`, by Cody's rational approximations (CALERF). */
function calerf(x: number, complement: boolean): number {
  const y = Math.abs(x);
  if (y <= 0.46875) {
    // CALERF's XSMALL: below it the x² terms cannot change the result, and x² could underflow.
    const ysq = y > 1.11e-16 ? y * y : 0;
    let num = ERF_A[4]! * ysq;
    let den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + ERF_A[i]!) * ysq;
      den = (den + ERF_B[i]!) * ysq;
    }
    const erf = (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
    return complement ? 1 - erf : erf;
  }
  let erfc = 0;
  if (y <= 4) {
    let num = ERFC_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERFC_C[i]!) * y;
      den = (den + ERFC_D[i]!) * y;
    }
    erfc = scaleByGaussian(y, (num + ERFC_C[7]!) / (den + ERFC_D[7]!));
  } else if (y < ERFC_UNDERFLOW) {
    const ysq = 1 / (y * y);
    let num = ERFC_P[5]! * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + ERFC_P[i]!) * ysq;
      den = (den + ERFC_Q[i]!) * ysq;
    }
    const r = (ysq * (num + ERFC_P[4]!)) / (den + ERFC_Q[4]!);
    erfc = scaleByGaussian(y, (FRAC_1_SQRT_PI - r) / y);
  } else if (Number.isNaN(y)) {
    return y;
  }
  // erfc(y) was computed for y = |x|: erf is odd and erfc(−y) = 2 − erfc(y).
  if (complement) return x < 0 ? 2 - erfc : erfc;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/**
 * r·e^(−y²), with y² split as s² + (y − s)(y + s), s = y rounded down to 1/16: s² is exact, so
 * the rounding error of y² is not magnified by exp (CALERF's device).
 */
function scaleByGaussian(y: number, r: number): number {
  const s = Math.trunc(y * 16) / 16;
  const del = (y - s) * (y + s);
  return Math.exp(-s * s) * Math.exp(-del) * r;
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
  const f = unaryFunction(kind, alpha);
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
}

type Combine = (a: number, b: number) => number;

function binaryFunction(kind: BinaryKind): Combine {
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
      const f = binaryFunction(kind);
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
