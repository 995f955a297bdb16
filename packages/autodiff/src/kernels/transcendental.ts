// The float64 scalar functions behind the transcendental unary kernels. assembly/transcendental.ts
// computes the same functions for the wasm kernels with the same IEEE operations in the same
// order, on its own ports of Math.exp and Math.expm1 (V8's fdlibm): a change here is made there
// too, and the wasm kernel test checks that both give the same bits.

/**
 * tanh(v) by fdlibm's formula on expm1 (e^2|v| − 1 loses nothing for small |v|): 1 − 2/(t + 2)
 * with t = expm1(2|v|) for |v| ≥ 1, −t/(t + 2) with t = expm1(−2|v|) below, ±1 from 22 on, v
 * itself below 2⁻⁵⁵. Written out rather than Math.tanh, which engines take from different C
 * libraries, so that js and wasm agree on every platform.
 */
export function tanh(v: number): number {
  if (Number.isNaN(v)) return v;
  const a = Math.abs(v);
  if (a < TWO_M55) return v * (1 + v);
  // From 22 on (and at ±∞) tanh rounds to ±1.
  let z = 1;
  if (a < 1) {
    const t = Math.expm1(-2 * a);
    z = -t / (t + 2);
  } else if (a < 22) {
    const t = Math.expm1(2 * a);
    z = 1 - 2 / (t + 2);
  }
  return v >= 0 ? z : -z;
}

/** 2⁻⁵⁵: below it tanh(v) rounds to v. */
const TWO_M55 = 2 ** -55;

/** x·Φ(x) with Φ(x) = ½·erfc(−x/√2): erfc keeps the tail for x ≪ 0, where 1 + erf would cancel. */
export function gelu(v: number): number {
  return 0.5 * v * calerf(-v * Math.SQRT1_2, true);
}

/** ½(1 + tanh u) = sigmoid(2u), which does not cancel for x ≪ 0 as 1 + tanh u would. */
export function geluTanh(v: number): number {
  return v * sigmoid(2 * GELU_TANH_SCALE * (v + GELU_TANH_CUBIC * v * v * v));
}

/** GELU's derivative Φ(x) + x·φ(x), Φ from erfc as in gelu, φ(x) = e^(−x²/2)/√(2π). */
export function geluSlope(v: number): number {
  return 0.5 * calerf(-v * Math.SQRT1_2, true) + v * Math.exp(-0.5 * v * v) * FRAC_1_SQRT_2PI;
}

/**
 * The derivative of GELU's tanh form x·s, s = sigmoid(2u), u = √(2/π)(x + 0.044715x³):
 * s + 2x·s(1 − s)·u′, u′ = √(2/π)(1 + 3·0.044715x²).
 */
export function geluTanhSlope(v: number): number {
  const s = sigmoid(2 * GELU_TANH_SCALE * (v + GELU_TANH_CUBIC * v * v * v));
  const du = GELU_TANH_SCALE * (1 + GELU_TANH_CUBIC3 * v * v);
  return s + 2 * v * s * (1 - s) * du;
}

/** 1/√(2π), the standard normal density's factor. */
const FRAC_1_SQRT_2PI = 0.3989422804014327;

/** 1/(1 + e^−v), in two branches so that exp never overflows: for v < 0, e^v/(1 + e^v). */
export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** √(2/π), the scale of GELU's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export const GELU_TANH_SCALE = Math.sqrt(2 / Math.PI);
/** 0.044715, the cubic coefficient of GELU's tanh approximation (Hendrycks & Gimpel, 2016). */
export const GELU_TANH_CUBIC = 0.044715;
/** 3·0.044715, the coefficient of x² in the derivative of GELU's tanh form's argument. */
const GELU_TANH_CUBIC3 = 3 * GELU_TANH_CUBIC;

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
export function calerf(x: number, complement: boolean): number {
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
