// Float32 elementwise kernels for the kinds whose float32 results equal the js kernels' exactly:
// js computes in float64 and rounds once, which for +, −, ×, ÷ of float32 operands gives the
// correctly rounded float32 result (53 ≥ 2·24 + 2 bits), the same as float32 arithmetic; the
// transcendental kinds compute in float64 what js computes, operation for operation.

import {
  BINARY_ADD,
  BINARY_GELU_GRAD,
  BINARY_MUL,
  BINARY_RELU_GRAD,
  BINARY_SUB,
  UNARY_ABS,
  UNARY_ERF,
  UNARY_EXP,
  UNARY_GELU,
  UNARY_GELU_TANH,
  UNARY_NEG,
  UNARY_RELU,
  UNARY_SIGMOID,
  UNARY_SQRT,
  UNARY_STEP,
  UNARY_TANH,
} from "../src/backends/wasm/kernels/elementwiseCodes";
import {
  erfF64x2,
  expF64x2,
  geluF64x2,
  geluSlopeF64,
  geluSlopeF64x2,
  geluTanhSlopeF64,
  geluTanhSlopeF64x2,
  geluTanhF64x2,
  sigmoidF64x2,
  tanhF64x2,
  transcendentalF64,
} from "./transcendental";

function unaryLanes(kind: i32, v: v128): v128 {
  const zero = f32x4.splat(0);
  switch (kind) {
    // v > 0 ? v : 0, with NaN and −0 giving +0 as in js: the comparison is false for both.
    case UNARY_RELU:
      return v128.and(v, f32x4.gt(v, zero));
    case UNARY_STEP:
      return v128.and(f32x4.splat(1), f32x4.gt(v, zero));
    case UNARY_NEG:
      return f32x4.neg(v);
    case UNARY_ABS:
      return f32x4.abs(v);
    // Correctly rounded, as js's float64 sqrt rounded once to float32 is (53 ≥ 2·24 + 2 bits).
    case UNARY_SQRT:
      return f32x4.sqrt(v);
    // UNARY_SQUARE
    default:
      return f32x4.mul(v, v);
  }
}

/** The two-lane forms of the transcendental kinds. */
function pairLanes(kind: i32, v: v128): v128 {
  switch (kind) {
    case UNARY_EXP:
      return expF64x2(v);
    case UNARY_TANH:
      return tanhF64x2(v);
    case UNARY_SIGMOID:
      return sigmoidF64x2(v);
    case UNARY_ERF:
      return erfF64x2(v);
    case UNARY_GELU:
      return geluF64x2(v);
    // UNARY_GELU_TANH
    default:
      return geluTanhF64x2(v);
  }
}

/** x[i] = f(x[i]) for i < count, in place. */
export function unaryF32(kind: i32, x: usize, count: i32): void {
  if (kind >= UNARY_EXP) {
    // Two elements at a time, rounded once from float64 as js stores its float64 result into a
    // Float32Array.
    let i = 0;
    for (; i + 2 <= count; i += 2) {
      const p = x + <usize>i * 4;
      const v = f64x2.promote_low_f32x4(v128.load64_zero(p));
      v128.store64_lane(p, f32x4.demote_f64x2_zero(pairLanes(kind, v)), 0);
    }
    for (; i < count; i++) {
      const p = x + <usize>i * 4;
      store<f32>(p, <f32>transcendentalF64(kind, <f64>load<f32>(p)));
    }
    return;
  }
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const p = x + <usize>i * 4;
    v128.store(p, unaryLanes(kind, v128.load(p)));
  }
  for (; i < count; i++) {
    const p = x + <usize>i * 4;
    store<f32>(p, f32x4.extract_lane(unaryLanes(kind, f32x4.splat(load<f32>(p))), 0));
  }
}

/**
 * dy[i] = dy[i]·gelu′(x[i]) on this thread's share, in place, two elements at a time: `args`
 * holds the i32s kind (BINARY_GELU_GRAD or BINARY_GELU_TANH_GRAD), dy and x (byte addresses)
 * and count. Computed in float64 and rounded once, as js computes it.
 */
export function geluGradTask(args: usize, tid: i32, threads: i32): void {
  const exact = load<i32>(args) == BINARY_GELU_GRAD;
  const dy = <usize>load<i32>(args, 4);
  const x = <usize>load<i32>(args, 8);
  const count = load<i32>(args, 12);
  const pairs = <i64>((count + 1) >> 1);
  const start = <i32>((pairs * tid) / threads) * 2;
  const end = min(count, <i32>((pairs * (tid + 1)) / threads) * 2);
  let i = start;
  for (; i + 2 <= end; i += 2) {
    const p = dy + <usize>i * 4;
    const v = f64x2.promote_low_f32x4(v128.load64_zero(x + <usize>i * 4));
    const slope = exact ? geluSlopeF64x2(v) : geluTanhSlopeF64x2(v);
    const d = f64x2.promote_low_f32x4(v128.load64_zero(p));
    v128.store64_lane(p, f32x4.demote_f64x2_zero(f64x2.mul(d, slope)), 0);
  }
  for (; i < end; i++) {
    const p = dy + <usize>i * 4;
    const v = <f64>load<f32>(x + <usize>i * 4);
    store<f32>(p, <f32>(<f64>load<f32>(p) * (exact ? geluSlopeF64(v) : geluTanhSlopeF64(v))));
  }
}

/**
 * unaryF32 on this thread's share of an array, in whole lanes of four: `args` holds the i32s
 * kind, x (a byte address) and count.
 */
export function unaryTask(args: usize, tid: i32, threads: i32): void {
  const kind = load<i32>(args);
  const x = <usize>load<i32>(args, 4);
  const count = load<i32>(args, 8);
  const lanes = <i64>((count + 3) >> 2);
  const start = <i32>((lanes * tid) / threads) * 4;
  const end = min(count, <i32>((lanes * (tid + 1)) / threads) * 4);
  if (end > start) unaryF32(kind, x + <usize>start * 4, end - start);
}

function binaryLanes(kind: i32, a: v128, b: v128): v128 {
  switch (kind) {
    case BINARY_ADD:
      return f32x4.add(a, b);
    case BINARY_SUB:
      return f32x4.sub(a, b);
    case BINARY_MUL:
      return f32x4.mul(a, b);
    // a·[b > 0]: a times 1 or 0, as js multiplies, so a NaN in a survives either way.
    case BINARY_RELU_GRAD:
      return f32x4.mul(a, v128.and(f32x4.splat(1), f32x4.gt(b, f32x4.splat(0))));
    // BINARY_DIV
    default:
      return f32x4.div(a, b);
  }
}

/**
 * out row r (n floats at out + r·n·4) = a ∘ b along the row, for each of `rows` rows whose
 * operand offsets (in elements) are the i32 pairs at `offsets`; an operand with step 0 repeats
 * one element along its row, step 1 walks it.
 */
export function binaryRowsF32(
  kind: i32,
  a: usize,
  aStep: i32,
  b: usize,
  bStep: i32,
  out: usize,
  rows: i32,
  n: i32,
  offsets: usize,
): void {
  for (let r = 0; r < rows; r++) {
    const ar = a + <usize>load<i32>(offsets + <usize>r * 8) * 4;
    const br = b + <usize>load<i32>(offsets + <usize>r * 8, 4) * 4;
    const o = out + <usize>(r * n) * 4;
    let j = 0;
    if (aStep == 1 && bStep == 1) {
      for (; j + 4 <= n; j += 4) {
        const k = <usize>j * 4;
        v128.store(o + k, binaryLanes(kind, v128.load(ar + k), v128.load(br + k)));
      }
    } else if (aStep == 1) {
      const bv = v128.load32_splat(br);
      for (; j + 4 <= n; j += 4) {
        const k = <usize>j * 4;
        v128.store(o + k, binaryLanes(kind, v128.load(ar + k), bv));
      }
    } else if (bStep == 1) {
      const av = v128.load32_splat(ar);
      for (; j + 4 <= n; j += 4) {
        const k = <usize>j * 4;
        v128.store(o + k, binaryLanes(kind, av, v128.load(br + k)));
      }
    }
    for (; j < n; j++) {
      const av = f32x4.splat(load<f32>(ar + <usize>(j * aStep) * 4));
      const bv = f32x4.splat(load<f32>(br + <usize>(j * bStep) * 4));
      store<f32>(o + <usize>j * 4, f32x4.extract_lane(binaryLanes(kind, av, bv), 0));
    }
  }
}

/** dst[i] += src[i] for i < count (sums the conv filter-gradient partials). */
export function addF32(dst: usize, src: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const d = dst + <usize>i * 4;
    v128.store(d, f32x4.add(v128.load(d), v128.load(src + <usize>i * 4)));
  }
  for (; i < count; i++) {
    const d = dst + <usize>i * 4;
    store<f32>(d, load<f32>(d) + load<f32>(src + <usize>i * 4));
  }
}

/** Zeroes `bytes` bytes from `at`: memory.fill, three times a shared Float32Array's fill. */
export function zeroBytes(at: usize, bytes: usize): void {
  memory.fill(at, 0, bytes);
}

/**
 * conv2d's epilogue, in place: y[n, o, ·] = y[n, o, ·] + bias[o], then relu when `relu` is 1,
 * over `batch` samples of `channels` planes of `plane` floats (one rounding per add, as js).
 */
export function biasActivationF32(
  y: usize,
  batch: i32,
  channels: i32,
  plane: i32,
  bias: usize,
  relu: i32,
): void {
  let at = y;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < channels; o++) {
      const b = f32x4.splat(load<f32>(bias + <usize>o * 4));
      const end = at + <usize>plane * 4;
      if (relu != 0) {
        for (; at + 16 <= end; at += 16) {
          v128.store(at, unaryLanes(UNARY_RELU, f32x4.add(v128.load(at), b)));
        }
        for (; at < end; at += 4) {
          const v = f32x4.add(f32x4.splat(load<f32>(at)), b);
          store<f32>(at, f32x4.extract_lane(unaryLanes(UNARY_RELU, v), 0));
        }
      } else {
        for (; at + 16 <= end; at += 16) v128.store(at, f32x4.add(v128.load(at), b));
        for (; at < end; at += 4) store<f32>(at, load<f32>(at) + f32x4.extract_lane(b, 0));
      }
    }
  }
}
