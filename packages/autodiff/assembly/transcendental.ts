// The float64 scalar functions of the transcendental unary kernels, computing exactly what
// src/kernels/transcendental.ts computes for the js kernels: the same IEEE operations in the same
// order, so that a float32 result is the same bits on both backends. Math.exp and Math.expm1,
// which the js side calls, are V8's ports of fdlibm; expF64 and expm1F64 port the same fdlibm
// routines (AssemblyScript's own Math.exp is a different algorithm).

import {
  UNARY_ERF,
  UNARY_EXP,
  UNARY_GELU,
  UNARY_SIGMOID,
  UNARY_TANH,
} from "../src/backends/wasm/kernels/elementwiseCodes";

const LN2_HI: f64 = 6.9314718036912381649e-1; // 0x3FE62E42 FEE00000
const LN2_LO: f64 = 1.90821492927058770002e-10; // 0x3DEA39EF 35793C76
const INV_LN2: f64 = 1.442695040888963387; // 0x3FF71547 652B82FE
/** exp(x) overflows above this. */
const OVERFLOW: f64 = 7.09782712893383973096e2;
/** exp(x) underflows to 0 below this. */
const UNDERFLOW: f64 = -7.4513321910194110842e2;
const TWO_M1000: f64 = 9.3326361850321887899e-302;
const TWO_1023: f64 = 8.988465674311579539e307;

/** The high 32 bits of x's representation. */
function highWord(x: f64): u32 {
  return <u32>(reinterpret<u64>(x) >>> 32);
}

/** The float64 whose high word is `hi` and low word 0. */
function fromHighWord(hi: u32): f64 {
  return reinterpret<f64>((<u64>hi) << 32);
}

// reduce's hi and lo: AssemblyScript functions return one value.
let reducedHi: f64 = 0;
let reducedLo: f64 = 0;

/**
 * fdlibm's argument reduction for exp and expm1 where |x| > ln2/2: x = k·ln2 + (hi − lo) with
 * |hi − lo| ≤ ln2/2 and ln2 = LN2_HI + LN2_LO (LN2_HI's trailing bits zero, so k·LN2_HI is
 * exact); returns k, leaves hi and lo in reducedHi and reducedLo. hx is |x|'s high word.
 */
function reduce(x: f64, hx: u32, negative: u32): i32 {
  if (hx < 0x3ff0a2b2) {
    // |x| < 1.5·ln2: k = ±1.
    reducedHi = negative ? x + LN2_HI : x - LN2_HI;
    reducedLo = negative ? -LN2_LO : LN2_LO;
    return negative ? -1 : 1;
  }
  const k = <i32>(INV_LN2 * x + (negative ? -0.5 : 0.5));
  const t = <f64>k;
  reducedHi = x - t * LN2_HI;
  reducedLo = t * LN2_LO;
  return k;
}

/**
 * reduce's k on both lanes as float64 (0 where |x| ≤ ln2/2, the lanes fdlibm leaves unreduced):
 * ±1 below 1.5·ln2, trunc(x/ln2 ± ½) beyond. hx holds |x|'s high words as i64 lanes.
 */
function reduceF64x2(x: v128, hx: v128): v128 {
  const reduced = i64x2.gt_s(hx, i64x2.splat(0x3fd62e42));
  const mid = v128.and(reduced, i64x2.lt_s(hx, i64x2.splat(0x3ff0a2b2)));
  const sign = v128.bitselect(f64x2.splat(-1), f64x2.splat(1), i64x2.shr_s(x, 63));
  const large = f64x2.trunc(
    f64x2.add(f64x2.mul(f64x2.splat(INV_LN2), x), f64x2.mul(sign, f64x2.splat(0.5))),
  );
  return v128.and(v128.bitselect(sign, large, mid), reduced);
}

/** e^x, fdlibm's e_exp.c as V8 ports it (its exp(1) special case included). */
export function expF64(x: f64): f64 {
  const word = highWord(x);
  const negative = word >>> 31;
  const hx = word & 0x7fffffff;
  if (hx >= 0x40862e42) {
    // |x| ≥ 709.78…: NaN, ±∞, overflow or underflow.
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | (<u32>reinterpret<u64>(x))) != 0) return x + x;
      return negative ? 0.0 : x;
    }
    if (x > OVERFLOW) return Infinity;
    if (x < UNDERFLOW) return 0.0;
  }
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (hx > 0x3fd62e42) {
    if (x == 1.0) return 2.718281828459045;
    k = reduce(x, hx, negative);
    hi = reducedHi;
    lo = reducedLo;
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    // |x| < 2⁻²⁸.
    return 1.0 + x;
  }
  const t = x * x;
  const c =
    x -
    t *
      (1.66666666666666019037e-1 +
        t *
          (-2.77777777770155933842e-3 +
            t *
              (6.61375632143793436117e-5 +
                t * (-1.6533902205465251539e-6 + t * 4.13813679705723846039e-8))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - (lo - (x * c) / (2.0 - c) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * TWO_1023;
    return y * fromHighWord(<u32>(0x3ff00000 + (k << 20)));
  }
  return y * fromHighWord(<u32>(0x3ff00000 + ((k + 1000) << 20))) * TWO_M1000;
}

/**
 * expF64 on both float64 lanes, the same bits: every lane takes the general branch's formulas,
 * which for k = 0 (|x| ≤ ln2/2) and k = ±1 (|x| < 1.5·ln2) compute what fdlibm's own branches
 * for them compute, since k·LN2_HI and k·LN2_LO are then exact and lo = 0 turns
 * 1 − ((lo − xc/(2 − c)) − hi) into 1 − (xc/(c − 2) − x) exactly. Lanes of 2⁻²⁸ > |x| take
 * 1 + x; a vector with a lane beyond ±704 (where 2^k would need fdlibm's scaling), NaN, ±∞ or
 * x = 1 (fdlibm's special case) goes to expF64 lane by lane.
 */
export function expF64x2(x: v128): v128 {
  const ax = f64x2.abs(x);
  const special = v128.or(v128.not(f64x2.lt(ax, f64x2.splat(704))), f64x2.eq(x, f64x2.splat(1)));
  if (v128.any_true(special)) {
    return f64x2.replace_lane(
      f64x2.splat(expF64(f64x2.extract_lane(x, 0))),
      1,
      expF64(f64x2.extract_lane(x, 1)),
    );
  }
  const hx = i64x2.shr_u(ax, 32);
  const tiny = i64x2.lt_s(hx, i64x2.splat(0x3e300000));
  const one = f64x2.splat(1);
  const k = reduceF64x2(x, hx);
  const hi = f64x2.sub(x, f64x2.mul(k, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(k, f64x2.splat(LN2_LO));
  const r = f64x2.sub(hi, lo);
  const t = f64x2.mul(r, r);
  let p = f64x2.splat(4.13813679705723846039e-8);
  p = f64x2.add(f64x2.splat(-1.6533902205465251539e-6), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(6.61375632143793436117e-5), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(-2.77777777770155933842e-3), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(1.66666666666666019037e-1), f64x2.mul(t, p));
  const c = f64x2.sub(r, f64x2.mul(t, p));
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(f64x2.splat(2), c));
  const y = f64x2.sub(one, f64x2.sub(f64x2.sub(lo, q), hi));
  // 2^k from k's integer value: (k + 1023) in the exponent field.
  const kInt = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k));
  const twopk = i64x2.shl(i64x2.add(kInt, i64x2.splat(1023)), 52);
  return v128.bitselect(f64x2.add(one, x), f64x2.mul(y, twopk), tiny);
}

/** sigmoidF64 on both lanes: e = e^−|v| once, then 1/(1 + e) for v ≥ 0 and e/(1 + e) below. */
export function sigmoidF64x2(v: v128): v128 {
  const one = f64x2.splat(1);
  const e = expF64x2(f64x2.neg(f64x2.abs(v)));
  const denominator = f64x2.add(one, e);
  const nonNegative = f64x2.ge(v, f64x2.splat(0));
  return v128.bitselect(f64x2.div(one, denominator), f64x2.div(e, denominator), nonNegative);
}

/** geluTanhF64 on both lanes. */
export function geluTanhF64x2(v: v128): v128 {
  const cubic = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_CUBIC), v), v), v);
  const u = f64x2.mul(f64x2.splat(2.0 * GELU_TANH_SCALE), f64x2.add(v, cubic));
  return f64x2.mul(v, sigmoidF64x2(u));
}

/** e^x − 1, fdlibm's s_expm1.c as V8 ports it. */
export function expm1F64(x: f64): f64 {
  const word = highWord(x);
  const negative = word >>> 31;
  const hx = word & 0x7fffffff;
  if (hx >= 0x4043687a) {
    // |x| ≥ 56·ln2.
    if (hx >= 0x40862e42) {
      if (hx >= 0x7ff00000) {
        if (((hx & 0xfffff) | (<u32>reinterpret<u64>(x))) != 0) return x + x;
        return negative ? -1.0 : x;
      }
      if (x > OVERFLOW) return Infinity;
    }
    if (negative) return -1.0;
  }
  let c: f64 = 0;
  let k: i32 = 0;
  if (hx > 0x3fd62e42) {
    k = reduce(x, hx, negative);
    const hi = reducedHi;
    const lo = reducedLo;
    x = hi - lo;
    c = hi - x - lo;
  } else if (hx < 0x3c900000) {
    // |x| < 2⁻⁵⁴.
    return x;
  }
  const hfx = 0.5 * x;
  const hxs = x * hfx;
  const r1 =
    1.0 +
    hxs *
      (-3.33333333333331316428e-2 +
        hxs *
          (1.58730158725481460165e-3 +
            hxs *
              (-7.93650757867487942473e-5 +
                hxs * (4.00821782732936239552e-6 + hxs * -2.01099218183624371326e-7))));
  let t = 3.0 - r1 * hfx;
  let e = hxs * ((r1 - t) / (6.0 - x * t));
  if (k == 0) return x - (x * e - hxs);
  const twopk = fromHighWord(<u32>(0x3ff00000 + (k << 20)));
  e = x * (e - c) - c;
  e -= hxs;
  if (k == -1) return 0.5 * (x - e) - 0.5;
  if (k == 1) {
    if (x < -0.25) return -2.0 * (e - (x + 0.5));
    return 1.0 + 2.0 * (x - e);
  }
  if (k <= -2 || k > 56) {
    let y = 1.0 - (e - x);
    y = k == 1024 ? y * 2.0 * TWO_1023 : y * twopk;
    return y - 1.0;
  }
  let y: f64;
  if (k < 20) {
    t = fromHighWord(<u32>(0x3ff00000 - (0x200000 >> k)));
    y = t - (e - x);
  } else {
    t = fromHighWord(<u32>((0x3ff - k) << 20));
    y = x - (e + t);
    y += 1.0;
  }
  return y * twopk;
}

/**
 * expm1F64 on both lanes, the same bits: the reduction as in expF64x2 (k·ln2 exact for every k
 * it takes here, and k = 0 leaving x and c = 0 as fdlibm's unreduced branch does), then every
 * one of fdlibm's final formulas, each lane keeping the one its k selects. A vector with a lane
 * beyond ±56·ln2 (where fdlibm returns −1 or nears overflow), NaN or ±∞ goes to expm1F64 lane by
 * lane.
 */
function expm1F64x2(x: v128): v128 {
  const ax = f64x2.abs(x);
  const hx = i64x2.shr_u(ax, 32);
  if (v128.any_true(i64x2.ge_s(hx, i64x2.splat(0x4043687a)))) {
    return f64x2.replace_lane(
      f64x2.splat(expm1F64(f64x2.extract_lane(x, 0))),
      1,
      expm1F64(f64x2.extract_lane(x, 1)),
    );
  }
  const tiny = i64x2.lt_s(hx, i64x2.splat(0x3c900000));
  const one = f64x2.splat(1);
  const half = f64x2.splat(0.5);
  const k = reduceF64x2(x, hx);
  const hi = f64x2.sub(x, f64x2.mul(k, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(k, f64x2.splat(LN2_LO));
  const r = f64x2.sub(hi, lo);
  const c = f64x2.sub(f64x2.sub(hi, r), lo);
  const hfx = f64x2.mul(half, r);
  const hxs = f64x2.mul(r, hfx);
  let q = f64x2.splat(-2.01099218183624371326e-7);
  q = f64x2.add(f64x2.splat(4.00821782732936239552e-6), f64x2.mul(hxs, q));
  q = f64x2.add(f64x2.splat(-7.93650757867487942473e-5), f64x2.mul(hxs, q));
  q = f64x2.add(f64x2.splat(1.58730158725481460165e-3), f64x2.mul(hxs, q));
  q = f64x2.add(f64x2.splat(-3.33333333333331316428e-2), f64x2.mul(hxs, q));
  const r1 = f64x2.add(one, f64x2.mul(hxs, q));
  const t = f64x2.sub(f64x2.splat(3), f64x2.mul(r1, hfx));
  const e = f64x2.mul(hxs, f64x2.div(f64x2.sub(r1, t), f64x2.sub(f64x2.splat(6), f64x2.mul(r, t))));
  const kInt = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k));
  const twopk = i64x2.shl(i64x2.add(kInt, i64x2.splat(1023)), 52);
  const twomk = i64x2.shl(i64x2.sub(i64x2.splat(1023), kInt), 52);
  const e2 = f64x2.sub(f64x2.sub(f64x2.mul(r, f64x2.sub(e, c)), c), hxs);
  const d = f64x2.sub(e2, r);
  // fdlibm's branches by k, in its order.
  const k0 = f64x2.sub(r, f64x2.sub(f64x2.mul(r, e), hxs));
  const kMinus1 = f64x2.sub(f64x2.mul(half, f64x2.sub(r, e2)), half);
  const k1 = v128.bitselect(
    f64x2.mul(f64x2.splat(-2), f64x2.sub(e2, f64x2.add(r, half))),
    f64x2.add(one, f64x2.mul(f64x2.splat(2), f64x2.sub(r, e2))),
    f64x2.lt(r, f64x2.splat(-0.25)),
  );
  const far = f64x2.sub(f64x2.mul(f64x2.sub(one, d), twopk), one);
  const below20 = f64x2.mul(f64x2.sub(f64x2.sub(one, twomk), d), twopk);
  const from20 = f64x2.mul(f64x2.add(f64x2.sub(r, f64x2.add(e2, twomk)), one), twopk);
  const isFar = v128.or(i64x2.le_s(kInt, i64x2.splat(-2)), i64x2.gt_s(kInt, i64x2.splat(56)));
  let y = v128.bitselect(below20, from20, i64x2.lt_s(kInt, i64x2.splat(20)));
  y = v128.bitselect(far, y, isFar);
  y = v128.bitselect(k1, y, i64x2.eq(kInt, i64x2.splat(1)));
  y = v128.bitselect(kMinus1, y, i64x2.eq(kInt, i64x2.splat(-1)));
  y = v128.bitselect(k0, y, i64x2.eq(kInt, i64x2.splat(0)));
  return v128.bitselect(x, y, tiny);
}

/** tanhF64 on both lanes (lanes from 22 on give ±1 without calling expm1). */
export function tanhF64x2(v: v128): v128 {
  if (v128.any_true(f64x2.ne(v, v))) {
    return f64x2.replace_lane(
      f64x2.splat(tanhF64(f64x2.extract_lane(v, 0))),
      1,
      tanhF64(f64x2.extract_lane(v, 1)),
    );
  }
  const one = f64x2.splat(1);
  const two = f64x2.splat(2);
  const a = f64x2.abs(v);
  const below1 = f64x2.lt(a, one);
  const saturated = f64x2.ge(a, f64x2.splat(22));
  const argument = v128.bitselect(f64x2.mul(f64x2.splat(-2), a), f64x2.mul(two, a), below1);
  const t = expm1F64x2(v128.andnot(argument, saturated));
  const denominator = f64x2.add(t, two);
  let z = v128.bitselect(
    f64x2.div(f64x2.neg(t), denominator),
    f64x2.sub(one, f64x2.div(two, denominator)),
    below1,
  );
  z = v128.bitselect(one, z, saturated);
  const signed = v128.bitselect(z, f64x2.neg(z), f64x2.ge(v, f64x2.splat(0)));
  const tiny = f64x2.lt(a, f64x2.splat(2.7755575615628914e-17));
  return v128.bitselect(f64x2.mul(v, f64x2.add(one, v)), signed, tiny);
}

/** As tanh in src/kernels/transcendental.ts. */
export function tanhF64(v: f64): f64 {
  if (isNaN(v)) return v;
  const a = Math.abs(v);
  if (a < 2.7755575615628914e-17) return v * (1.0 + v);
  let z: f64 = 1;
  if (a < 1) {
    const t = expm1F64(-2.0 * a);
    z = -t / (t + 2.0);
  } else if (a < 22) {
    const t = expm1F64(2.0 * a);
    z = 1.0 - 2.0 / (t + 2.0);
  }
  return v >= 0 ? z : -z;
}

/** As sigmoid in src/kernels/transcendental.ts. */
export function sigmoidF64(v: f64): f64 {
  return v >= 0 ? 1.0 / (1.0 + expF64(-v)) : expF64(v) / (1.0 + expF64(v));
}

const GELU_TANH_SCALE: f64 = Math.sqrt(2.0 / Math.PI);
const GELU_TANH_CUBIC: f64 = 0.044715;

/** As geluTanh in src/kernels/transcendental.ts. */
function geluTanhF64(v: f64): f64 {
  return v * sigmoidF64(2.0 * GELU_TANH_SCALE * (v + GELU_TANH_CUBIC * v * v * v));
}

/** As gelu in src/kernels/transcendental.ts. */
function geluF64(v: f64): f64 {
  return 0.5 * v * calerfF64(-v * Math.SQRT1_2, true);
}

const ERF_A: StaticArray<f64> = [
  3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947,
  0.185777706184603153,
];
const ERF_B: StaticArray<f64> = [
  23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062,
];
const ERFC_C: StaticArray<f64> = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131,
  881.95222124176909, 1712.04761263407058, 2051.07837782607147, 1230.33935479799725,
  2.15311535474403846e-8,
];
const ERFC_D: StaticArray<f64> = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019,
  3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERFC_P: StaticArray<f64> = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766,
  6.58749161529837803e-4, 0.0163153871373020978,
];
const ERFC_Q: StaticArray<f64> = [
  2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191,
  0.00233520497626869185,
];

/** As calerf in src/kernels/transcendental.ts. */
function calerfF64(x: f64, complement: bool): f64 {
  const y = Math.abs(x);
  if (y <= 0.46875) {
    const ysq = y > 1.11e-16 ? y * y : 0;
    let num = unchecked(ERF_A[4]) * ysq;
    let den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + unchecked(ERF_A[i])) * ysq;
      den = (den + unchecked(ERF_B[i])) * ysq;
    }
    const erf = (x * (num + unchecked(ERF_A[3]))) / (den + unchecked(ERF_B[3]));
    return complement ? 1.0 - erf : erf;
  }
  let erfc: f64 = 0;
  if (y <= 4) {
    let num = unchecked(ERFC_C[8]) * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + unchecked(ERFC_C[i])) * y;
      den = (den + unchecked(ERFC_D[i])) * y;
    }
    erfc = scaleByGaussian(y, (num + unchecked(ERFC_C[7])) / (den + unchecked(ERFC_D[7])));
  } else if (y < 26.543) {
    const ysq = 1.0 / (y * y);
    let num = unchecked(ERFC_P[5]) * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + unchecked(ERFC_P[i])) * ysq;
      den = (den + unchecked(ERFC_Q[i])) * ysq;
    }
    const r = (ysq * (num + unchecked(ERFC_P[4]))) / (den + unchecked(ERFC_Q[4]));
    erfc = scaleByGaussian(y, (0.56418958354775628695 - r) / y);
  } else if (isNaN(y)) {
    return y;
  }
  if (complement) return x < 0 ? 2.0 - erfc : erfc;
  return x < 0 ? erfc - 1.0 : 1.0 - erfc;
}

/** As scaleByGaussian in src/kernels/transcendental.ts. */
function scaleByGaussian(y: f64, r: f64): f64 {
  const s = Math.trunc(y * 16) / 16;
  const del = (y - s) * (y + s);
  return expF64(-s * s) * expF64(-del) * r;
}

/**
 * calerfF64 on both lanes: each lane takes its range's rational function (and Gaussian factor)
 * with the same operations as calerfF64; where the two lanes fall in different ranges both
 * ranges are computed and each lane keeps its own. A lane beyond 26.543 or NaN sends the pair to
 * calerfF64 lane by lane.
 */
function calerfF64x2(x: v128, complement: bool): v128 {
  const y = f64x2.abs(x);
  const upToFour = f64x2.le(y, f64x2.splat(4));
  const small = f64x2.le(y, f64x2.splat(0.46875));
  const middle = v128.andnot(upToFour, small);
  const large = v128.andnot(f64x2.lt(y, f64x2.splat(26.543)), upToFour);
  if (!i64x2.all_true(v128.or(upToFour, large))) {
    return f64x2.replace_lane(
      f64x2.splat(calerfF64(f64x2.extract_lane(x, 0), complement)),
      1,
      calerfF64(f64x2.extract_lane(x, 1), complement),
    );
  }
  let result = f64x2.splat(0);
  if (v128.any_true(small)) result = smallErf(x, y, complement);
  if (!i64x2.all_true(small)) {
    let erfc = f64x2.splat(0);
    if (v128.any_true(middle)) erfc = middleErfc(y);
    if (v128.any_true(large)) erfc = v128.bitselect(largeErfc(y), erfc, large);
    // erfc was computed for |x|: erf is odd and erfc(−y) = 2 − erfc(y).
    const negative = f64x2.lt(x, f64x2.splat(0));
    const one = f64x2.splat(1);
    const fromErfc = complement
      ? v128.bitselect(f64x2.sub(f64x2.splat(2), erfc), erfc, negative)
      : v128.bitselect(f64x2.sub(erfc, one), f64x2.sub(one, erfc), negative);
    result = v128.bitselect(result, fromErfc, small);
  }
  return result;
}

/** calerfF64's first range, |x| ≤ 0.46875: erf (or 1 − erf) from a rational function of x². */
function smallErf(x: v128, y: v128, complement: bool): v128 {
  const ysq = v128.and(f64x2.mul(y, y), f64x2.gt(y, f64x2.splat(1.11e-16)));
  let num = f64x2.mul(f64x2.splat(unchecked(ERF_A[4])), ysq);
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = f64x2.mul(f64x2.add(num, f64x2.splat(unchecked(ERF_A[i]))), ysq);
    den = f64x2.mul(f64x2.add(den, f64x2.splat(unchecked(ERF_B[i]))), ysq);
  }
  const erf = f64x2.div(
    f64x2.mul(x, f64x2.add(num, f64x2.splat(unchecked(ERF_A[3])))),
    f64x2.add(den, f64x2.splat(unchecked(ERF_B[3]))),
  );
  return complement ? f64x2.sub(f64x2.splat(1), erf) : erf;
}

/** calerfF64's second range, 0.46875 < y ≤ 4: erfc(y). */
function middleErfc(y: v128): v128 {
  let num = f64x2.mul(f64x2.splat(unchecked(ERFC_C[8])), y);
  let den = y;
  for (let i = 0; i < 7; i++) {
    num = f64x2.mul(f64x2.add(num, f64x2.splat(unchecked(ERFC_C[i]))), y);
    den = f64x2.mul(f64x2.add(den, f64x2.splat(unchecked(ERFC_D[i]))), y);
  }
  const r = f64x2.div(
    f64x2.add(num, f64x2.splat(unchecked(ERFC_C[7]))),
    f64x2.add(den, f64x2.splat(unchecked(ERFC_D[7]))),
  );
  return scaleByGaussianF64x2(y, r);
}

/** calerfF64's third range, 4 < y < 26.543: erfc(y) from a rational function of 1/y². */
function largeErfc(y: v128): v128 {
  const ysq = f64x2.div(f64x2.splat(1), f64x2.mul(y, y));
  let num = f64x2.mul(f64x2.splat(unchecked(ERFC_P[5])), ysq);
  let den = ysq;
  for (let i = 0; i < 4; i++) {
    num = f64x2.mul(f64x2.add(num, f64x2.splat(unchecked(ERFC_P[i]))), ysq);
    den = f64x2.mul(f64x2.add(den, f64x2.splat(unchecked(ERFC_Q[i]))), ysq);
  }
  const r = f64x2.div(
    f64x2.mul(ysq, f64x2.add(num, f64x2.splat(unchecked(ERFC_P[4])))),
    f64x2.add(den, f64x2.splat(unchecked(ERFC_Q[4]))),
  );
  return scaleByGaussianF64x2(y, f64x2.div(f64x2.sub(f64x2.splat(0.56418958354775628695), r), y));
}

/** scaleByGaussian on both lanes. */
function scaleByGaussianF64x2(y: v128, r: v128): v128 {
  const sixteen = f64x2.splat(16);
  const s = f64x2.div(f64x2.trunc(f64x2.mul(y, sixteen)), sixteen);
  const del = f64x2.mul(f64x2.sub(y, s), f64x2.add(y, s));
  const gaussian = f64x2.mul(expF64x2(f64x2.neg(f64x2.mul(s, s))), expF64x2(f64x2.neg(del)));
  return f64x2.mul(gaussian, r);
}

/** erf on both lanes. */
export function erfF64x2(v: v128): v128 {
  return calerfF64x2(v, false);
}

/** geluF64 on both lanes. */
export function geluF64x2(v: v128): v128 {
  const half = f64x2.mul(f64x2.splat(0.5), v);
  return f64x2.mul(half, calerfF64x2(f64x2.mul(f64x2.neg(v), f64x2.splat(Math.SQRT1_2)), true));
}

const FRAC_1_SQRT_2PI: f64 = 0.3989422804014327;
const GELU_TANH_CUBIC3: f64 = 3 * GELU_TANH_CUBIC;

/** As geluSlope in src/kernels/transcendental.ts. */
export function geluSlopeF64(v: f64): f64 {
  return 0.5 * calerfF64(-v * Math.SQRT1_2, true) + v * expF64(-0.5 * v * v) * FRAC_1_SQRT_2PI;
}

/** geluSlopeF64 on both lanes. */
export function geluSlopeF64x2(v: v128): v128 {
  const cdf = f64x2.mul(
    f64x2.splat(0.5),
    calerfF64x2(f64x2.mul(f64x2.neg(v), f64x2.splat(Math.SQRT1_2)), true),
  );
  const gaussian = expF64x2(f64x2.mul(f64x2.mul(f64x2.splat(-0.5), v), v));
  return f64x2.add(cdf, f64x2.mul(f64x2.mul(v, gaussian), f64x2.splat(FRAC_1_SQRT_2PI)));
}

/** As geluTanhSlope in src/kernels/transcendental.ts. */
export function geluTanhSlopeF64(v: f64): f64 {
  const s = sigmoidF64(2.0 * GELU_TANH_SCALE * (v + GELU_TANH_CUBIC * v * v * v));
  const du = GELU_TANH_SCALE * (1 + GELU_TANH_CUBIC3 * v * v);
  return s + 2 * v * s * (1 - s) * du;
}

/** geluTanhSlopeF64 on both lanes. */
export function geluTanhSlopeF64x2(v: v128): v128 {
  const cubic = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_CUBIC), v), v), v);
  const s = sigmoidF64x2(f64x2.mul(f64x2.splat(2.0 * GELU_TANH_SCALE), f64x2.add(v, cubic)));
  const square = f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_CUBIC3), v), v);
  const du = f64x2.mul(f64x2.splat(GELU_TANH_SCALE), f64x2.add(f64x2.splat(1), square));
  const ds = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(2), v), s), f64x2.sub(f64x2.splat(1), s));
  return f64x2.add(s, f64x2.mul(ds, du));
}

/** f(v) for one of the transcendental unary kinds. */
export function transcendentalF64(kind: i32, v: f64): f64 {
  switch (kind) {
    case UNARY_EXP:
      return expF64(v);
    case UNARY_TANH:
      return tanhF64(v);
    case UNARY_SIGMOID:
      return sigmoidF64(v);
    case UNARY_ERF:
      return calerfF64(v, false);
    case UNARY_GELU:
      return geluF64(v);
    // UNARY_GELU_TANH
    default:
      return geluTanhF64(v);
  }
}
