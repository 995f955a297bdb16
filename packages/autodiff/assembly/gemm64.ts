// Float64 GEMM with f64x2: C += op(A)·op(B) through the same strides and loop nest as gemm.ts,
// with a 4×4 micro-tile in eight f64x2 accumulators. The depth blocks are KC = 256 long, as in
// ../src/kernels/matmul.ts, so each element's sum runs in the same order as the js kernel's.

export const MR: i32 = 4;
export const NR: i32 = 4;
const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 1024;

const PACKED_A: i32 = MC * KC * 8;
const PACKED_B: i32 = KC * NC * 8;
const TILE: i32 = MR * NR * 8;

/** Bytes of scratch one gemmF64 call needs. */
export function gemmF64ScratchBytes(): i32 {
  return PACKED_A + PACKED_B + TILE;
}

function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Packs the kc×nc block of op(B) at (pc, jc) into NR-wide, zero-padded slivers. */
function packB(b: usize, brs: i32, bcs: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    const src = b + (<usize>pc * brs + <usize>(jc + jr) * bcs) * 8;
    if (w == NR && bcs == 1) {
      const step = <usize>brs * 8;
      let s = src;
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(s));
        v128.store(dst, v128.load(s, 16), 16);
        s += step;
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const s = src + <usize>p * brs * 8;
        let j = 0;
        for (; j < w; j++) store<f64>(dst + <usize>j * 8, load<f64>(s + <usize>j * bcs * 8));
        for (; j < NR; j++) store<f64>(dst + <usize>j * 8, 0);
        dst += 32;
      }
    }
  }
}

/** Packs the mc×kc block of op(A) at (ic, pc) into MR-tall, zero-padded slivers. */
function packA(a: usize, ars: i32, acs: i32, ic: i32, pc: i32, mc: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const h = min(MR, mc - ir);
    const src = a + (<usize>(ic + ir) * ars + <usize>pc * acs) * 8;
    for (let p = 0; p < kc; p++) {
      const s = src + <usize>p * acs * 8;
      const d = dst + <usize>(p * MR) * 8;
      let i = 0;
      for (; i < h; i++) store<f64>(d + <usize>i * 8, load<f64>(s + <usize>i * ars * 8));
      for (; i < MR; i++) store<f64>(d + <usize>i * 8, 0);
    }
    dst += <usize>(kc * MR) * 8;
  }
}

/** C[h×w tile] += packed A sliver · packed B sliver over kc steps (edges via the tile). */
function microKernel(
  pa: usize,
  pb: usize,
  kc: i32,
  c: usize,
  ldc: usize,
  h: i32,
  w: i32,
  tile: usize,
): void {
  let c00 = f64x2.splat(0);
  let c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0);
  let c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0);
  let c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0);
  let c31 = f64x2.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load64_splat(pa);
    c00 = f64x2.add(c00, f64x2.mul(x, b0));
    c01 = f64x2.add(c01, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 8);
    c10 = f64x2.add(c10, f64x2.mul(x, b0));
    c11 = f64x2.add(c11, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 16);
    c20 = f64x2.add(c20, f64x2.mul(x, b0));
    c21 = f64x2.add(c21, f64x2.mul(x, b1));
    x = v128.load64_splat(pa, 24);
    c30 = f64x2.add(c30, f64x2.mul(x, b0));
    c31 = f64x2.add(c31, f64x2.mul(x, b1));
    pa += MR * 8;
    pb += NR * 8;
  }
  const full = h == MR && w == NR;
  const out = full ? c : tile;
  const ld = full ? ldc : <usize>NR * 8;
  if (!full) memory.fill(tile, 0, TILE);
  let r = out;
  v128.store(r, f64x2.add(v128.load(r), c00));
  v128.store(r, f64x2.add(v128.load(r, 16), c01), 16);
  r += ld;
  v128.store(r, f64x2.add(v128.load(r), c10));
  v128.store(r, f64x2.add(v128.load(r, 16), c11), 16);
  r += ld;
  v128.store(r, f64x2.add(v128.load(r), c20));
  v128.store(r, f64x2.add(v128.load(r, 16), c21), 16);
  r += ld;
  v128.store(r, f64x2.add(v128.load(r), c30));
  v128.store(r, f64x2.add(v128.load(r, 16), c31), 16);
  if (full) return;
  for (let i = 0; i < h; i++) {
    const ci = c + <usize>i * ldc;
    const ti = tile + <usize>(i * NR) * 8;
    for (let j = 0; j < w; j++) {
      const d = ci + <usize>j * 8;
      store<f64>(d, load<f64>(d) + load<f64>(ti + <usize>j * 8));
    }
  }
}

/** C (m×n, rows ldc doubles apart) += op(A)·op(B), float64 element strides as gemmF32. */
export function gemmF64(
  a: usize,
  ars: i32,
  acs: i32,
  b: usize,
  brs: i32,
  bcs: i32,
  c: usize,
  ldc: i32,
  m: i32,
  k: i32,
  n: i32,
  scratch: usize,
): void {
  const pa = scratch;
  const pb = scratch + PACKED_A;
  const tile = pb + PACKED_B;
  const ldcBytes = <usize>ldc * 8;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(b, brs, bcs, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, ars, acs, ic, pc, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const w = min(NR, nc - jr);
          const bSliver = pb + <usize>(jr * kc) * 8;
          let cRow = c + <usize>ic * ldcBytes + <usize>(jc + jr) * 8;
          for (let ir = 0; ir < mc; ir += MR) {
            const h = min(MR, mc - ir);
            microKernel(pa + <usize>(ir * kc) * 8, bSliver, kc, cRow, ldcBytes, h, w, tile);
            cRow += <usize>MR * ldcBytes;
          }
        }
      }
    }
  }
}
