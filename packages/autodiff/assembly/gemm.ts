// Packed, register-tiled float32 GEMM with 128-bit SIMD: C += op(A)·op(B), the GotoBLAS loop
// nest of ../src/kernels/matmul.ts with an MR×NR = 4×8 micro-tile held in eight f32x4
// accumulators: a 6×8 tile needs 16 vector registers with its operands and V8 allocates 15, so
// it would spill accumulators every step (docs/performance.md#wasm-thresholds-and-kernel-choices).
// Operands are read through element strides, op(A)(i, p) = a[i·ars + p·acs] and
// op(B)(p, j) = b[p·brs + j·bcs], so the four transA/transB layouts are only stride choices.
// Baseline wasm SIMD has no fused multiply-add, so each step is a mul and an add; the relaxed
// build fuses them (madd below), and keeps the 4×8 tile.

import { ConvArgs } from "./convArgs";
import { packConvB } from "./convPack";

export const MR: i32 = 4;
export const NR: i32 = 8;
/**
 * acc + x·b per lane. Built with relaxed SIMD (the `relaxed` module) it is one fused
 * multiply-add where the host has FMA, which doubles the micro-kernels' arithmetic rate;
 * otherwise a multiply and an add, rounded twice. A host picks one and keeps it, so results
 * stay the same run to run and for any thread count.
 */
export function madd(x: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, b, acc);
  return f32x4.add(acc, f32x4.mul(x, b));
}

/** Depth of one packed block: a KC×NR sliver of B (8 KiB) stays in L1 across the row slivers. */
const KC: i32 = 256;
/** Rows of one packed block of A (MC×KC, 120 KiB, in L2); a multiple of MR. */
const MC: i32 = 120;
/** Columns of one packed panel of B (KC×NC, 2 MiB, in L2/L3); a multiple of NR. */
const NC: i32 = 2048;

const PACKED_A: i32 = MC * KC * 4;
const PACKED_B: i32 = KC * NC * 4;
const TILE: i32 = MR * NR * 4;
/** Room for gemmF32's Blocks record. */
const BLOCKS: i32 = 64;

/** Bytes of scratch one gemmF32 call needs: packed A, packed B, an edge tile, a Blocks record. */
export function gemmScratchBytes(): i32 {
  return PACKED_A + PACKED_B + TILE + BLOCKS;
}

function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/**
 * Column j of a matrix stored as blocks of `block` columns, `stride` bytes apart (each block
 * row-major, as one sample's [C, P] slice of an NCHW tensor), or 0 for an ordinary matrix.
 */
@unmanaged
export class Blocks {
  b: i32;
  bStride: i32;
  c: i32;
  cStride: i32;
  /** When not 0, B is a conv's column matrix, packed straight from x (see convPack.ts). */
  conv: usize;
  /** x at the chunk's first sample and the group, and the bytes between samples. */
  convX: usize;
  convSampleBytes: i32;
  /**
   * When not 0, the first depth block stores into C instead of adding (C = op(A)·op(B), BLAS's
   * beta = 0): C need not be zeroed first, nor read back.
   */
  overwrite: i32;
}

/** The address of column `column` (row 0) of a block-stored matrix. */
function blockAddress(base: usize, column: i32, block: i32, stride: i32): usize {
  return base + <usize>(column / block) * stride + <usize>(column % block) * 4;
}

/**
 * Packs the kc×nc block of op(B) at (pc, jc) into NR-wide slivers, each kc rows of NR floats,
 * zero-padding the last sliver so the micro-kernel never tests bounds.
 */
function packB(
  b: usize,
  brs: i32,
  bcs: i32,
  pc: i32,
  jc: i32,
  kc: i32,
  nc: i32,
  dst: usize,
  blocks: Blocks,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    const src =
      blocks.b == 0
        ? b + (<usize>pc * brs + <usize>(jc + jr) * bcs) * 4
        : blockAddress(b, jc + jr, blocks.b, blocks.bStride) + <usize>pc * brs * 4;
    if (w == NR && bcs == 1) {
      // Row-major B: each sliver row is 8 contiguous floats.
      const step = <usize>brs * 4;
      let s = src;
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(s));
        v128.store(dst, v128.load(s, 16), 16);
        s += step;
        dst += 32;
      }
    } else if (w == NR && brs == 1 && blocks.b == 0) {
      // Transposed B: each of the 8 sliver columns is contiguous along p; 4×4 transposes.
      const col = <usize>bcs * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        transpose4(s, col, dst, 32);
        transpose4(s + 4 * col, col, dst + 16, 32);
        dst += 128;
      }
      for (; p < kc; p++) {
        const s = src + <usize>p * 4;
        for (let j = 0; j < NR; j++) store<f32>(dst + <usize>j * 4, load<f32>(s + <usize>j * col));
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const row = <usize>(pc + p) * brs * 4;
        let j = 0;
        for (; j < w; j++) {
          const column = jc + jr + j;
          const at =
            blocks.b == 0
              ? b + <usize>column * bcs * 4
              : blockAddress(b, column, blocks.b, blocks.bStride);
          store<f32>(dst + <usize>j * 4, load<f32>(at + row));
        }
        for (; j < NR; j++) store<f32>(dst + <usize>j * 4, 0);
        dst += 32;
      }
    }
  }
}

/**
 * Reads 4 rows of 4 floats (rows `stride` bytes apart) and writes their transpose as 4 rows of
 * 4 floats `dstStride` bytes apart.
 */
function transpose4(src: usize, stride: usize, dst: usize, dstStride: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + stride);
  const r2 = v128.load(src + 2 * stride);
  const r3 = v128.load(src + 3 * stride);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + dstStride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * dstStride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * dstStride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** Packs the mc×kc block of op(A) at (ic, pc) into MR-tall slivers, each kc steps of MR floats. */
export function packA(
  a: usize,
  ars: i32,
  acs: i32,
  ic: i32,
  pc: i32,
  mc: i32,
  kc: i32,
  dst: usize,
): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const h = min(MR, mc - ir);
    const src = a + (<usize>(ic + ir) * ars + <usize>pc * acs) * 4;
    if (h == MR && acs == 1) {
      // Row-major A: each row is contiguous along p, so copy rows into a strided sliver.
      const row = <usize>ars * 4;
      for (let i = 0; i < MR; i++) {
        const s = src + <usize>i * row;
        let d = dst + <usize>i * 4;
        for (let p = 0; p < kc; p++) {
          store<f32>(d, load<f32>(s + <usize>p * 4));
          d += MR * 4;
        }
      }
    } else if (h == MR && ars == 1) {
      const step = <usize>acs * 4;
      let s = src;
      let d = dst;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(s));
        s += step;
        d += MR * 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const s = src + <usize>p * acs * 4;
        const d = dst + <usize>(p * MR) * 4;
        let i = 0;
        for (; i < h; i++) store<f32>(d + <usize>i * 4, load<f32>(s + <usize>i * ars * 4));
        for (; i < MR; i++) store<f32>(d + <usize>i * 4, 0);
      }
    }
    dst += <usize>(kc * MR) * 4;
  }
}

/**
 * C[h×w tile at c, rows ldc bytes apart] += (or, without `add`, =) packed A sliver · packed B
 * sliver over kc steps. The 4×8 sums live in eight f32x4 locals; a partial edge tile goes
 * through the scratch tile, and one of at most 2 rows (as in a 6-row product) computes only
 * those rows.
 */
function microKernel(
  pa: usize,
  pb: usize,
  kc: i32,
  c: usize,
  ldc: usize,
  h: i32,
  w: i32,
  tile: usize,
  add: bool,
): void {
  if (h <= 2) {
    microKernel2(pa, pb, kc, c, ldc, h, w, tile, add);
    return;
  }
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(pa, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(pa, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    pa += MR * 4;
    pb += NR * 4;
  }
  writeTile(c, ldc, h, w, tile, add, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** The first h ≤ 2 rows of microKernel's tile: half the work for a 2-row remainder. */
function microKernel2(
  pa: usize,
  pb: usize,
  kc: i32,
  c: usize,
  ldc: usize,
  h: i32,
  w: i32,
  tile: usize,
  add: bool,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    pa += MR * 4;
    pb += NR * 4;
  }
  writeTile2(c, ldc, h, w, tile, add, c00, c01, c10, c11);
}

/**
 * Puts a 4×8 tile of sums (row i in ci0, ci1) into C[h×w at c, rows ldc bytes apart], adding to
 * C or (without `add`) overwriting it: a whole tile straight, an edge tile staged in `tile` so
 * that only its h×w corner reaches C. The GEMM's and the direct conv's micro-kernels share it.
 */
export function writeTile(
  c: usize,
  ldc: usize,
  h: i32,
  w: i32,
  tile: usize,
  add: bool,
  c00: v128,
  c01: v128,
  c10: v128,
  c11: v128,
  c20: v128,
  c21: v128,
  c30: v128,
  c31: v128,
): void {
  if (h == MR && w == NR) {
    if (add) {
      c00 = f32x4.add(v128.load(c), c00);
      c01 = f32x4.add(v128.load(c, 16), c01);
      c10 = f32x4.add(v128.load(c + ldc), c10);
      c11 = f32x4.add(v128.load(c + ldc, 16), c11);
      c20 = f32x4.add(v128.load(c + 2 * ldc), c20);
      c21 = f32x4.add(v128.load(c + 2 * ldc, 16), c21);
      c30 = f32x4.add(v128.load(c + 3 * ldc), c30);
      c31 = f32x4.add(v128.load(c + 3 * ldc, 16), c31);
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c + ldc, c10);
    v128.store(c + ldc, c11, 16);
    v128.store(c + 2 * ldc, c20);
    v128.store(c + 2 * ldc, c21, 16);
    v128.store(c + 3 * ldc, c30);
    v128.store(c + 3 * ldc, c31, 16);
    return;
  }
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  writeTile2(c, ldc, h, w, tile, add, c00, c01, c10, c11);
}

/**
 * writeTile through the staged tile, given its first two rows: a tile of h ≤ 2 rows (the 2-row
 * micro-kernels), or an edge tile whose rows 2 and 3 writeTile has staged already.
 */
export function writeTile2(
  c: usize,
  ldc: usize,
  h: i32,
  w: i32,
  tile: usize,
  add: bool,
  c00: v128,
  c01: v128,
  c10: v128,
  c11: v128,
): void {
  if (h <= 2 && w == NR) {
    // Whole rows go straight to C (the direct conv's two-channel tiles write most of theirs so).
    if (add) {
      c00 = f32x4.add(v128.load(c), c00);
      c01 = f32x4.add(v128.load(c, 16), c01);
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    if (h == 2) {
      if (add) {
        c10 = f32x4.add(v128.load(c + ldc), c10);
        c11 = f32x4.add(v128.load(c + ldc, 16), c11);
      }
      v128.store(c + ldc, c10);
      v128.store(c + ldc, c11, 16);
    }
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  writeTileCorner(tile, c, ldc, h, w, add);
}

/** C[h×w at c] = the staged tile's corner (`add` false) or += it. */
function writeTileCorner(tile: usize, c: usize, ldc: usize, h: i32, w: i32, add: bool): void {
  for (let i = 0; i < h; i++) {
    const ci = c + <usize>i * ldc;
    const ti = tile + <usize>(i * NR) * 4;
    if (w == NR) {
      const lo = v128.load(ti);
      const hi = v128.load(ti, 16);
      v128.store(ci, add ? f32x4.add(v128.load(ci), lo) : lo);
      v128.store(ci, add ? f32x4.add(v128.load(ci, 16), hi) : hi, 16);
      continue;
    }
    for (let j = 0; j < w; j++) {
      const d = ci + <usize>j * 4;
      const v = load<f32>(ti + <usize>j * 4);
      store<f32>(d, add ? load<f32>(d) + v : v);
    }
  }
}

/**
 * C (m×n, rows ldc floats apart) += op(A)·op(B) for op(A)(i, p) = a[i·ars + p·acs] and
 * op(B)(p, j) = b[p·brs + j·bcs] (float32 element strides), using gemmScratchBytes() of scratch.
 * With `overwrite` C = op(A)·op(B) instead (k ≥ 1): C need not be zeroed first.
 */
export function gemmF32(
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
  overwrite: bool = false,
): void {
  const blocks = changetype<Blocks>(scratch + <usize>(PACKED_A + PACKED_B + TILE));
  blocks.b = 0;
  blocks.c = 0;
  blocks.conv = 0;
  blocks.overwrite = overwrite ? 1 : 0;
  gemmF32Blocked(a, ars, acs, b, brs, bcs, c, ldc, m, k, n, scratch, blocks);
}

/**
 * gemmF32 where B's columns (with blocks.b > 0) and C's columns (with blocks.c > 0) are stored
 * in blocks, as a chunk of samples' [C, P] slices of NCHW tensors side by side; every block
 * size must be a multiple of NR, so that no sliver straddles two blocks.
 */
export function gemmF32Blocked(
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
  blocks: Blocks,
): void {
  const pa = scratch;
  const pb = scratch + PACKED_A;
  const tile = pb + PACKED_B;
  const ldcBytes = <usize>ldc * 4;
  // Equal depth blocks: 288 = 144 + 144 rather than 256 + 32, whose short block would pay the
  // C tiles' loads and stores and the packing for little arithmetic.
  const depthBlocks = (k + KC - 1) / KC;
  const kcStep = (k + depthBlocks - 1) / depthBlocks;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      const add = blocks.overwrite == 0 || pc > 0;
      if (blocks.conv != 0) {
        const q = changetype<ConvArgs>(blocks.conv);
        packConvB(q, blocks.convX, blocks.convSampleBytes, pc, jc, kc, nc, NR, pb);
      } else {
        packB(b, brs, bcs, pc, jc, kc, nc, pb, blocks);
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, ars, acs, ic, pc, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const w = min(NR, nc - jr);
          const bSliver = pb + <usize>(jr * kc) * 4;
          const column =
            blocks.c == 0
              ? c + <usize>(jc + jr) * 4
              : blockAddress(c, jc + jr, blocks.c, blocks.cStride);
          let cRow = column + <usize>ic * ldcBytes;
          for (let ir = 0; ir < mc; ir += MR) {
            const h = min(MR, mc - ir);
            microKernel(pa + <usize>(ir * kc) * 4, bSliver, kc, cRow, ldcBytes, h, w, tile, add);
            cRow += <usize>MR * ldcBytes;
          }
        }
      }
    }
  }
}
