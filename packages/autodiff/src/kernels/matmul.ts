import type { FloatArray } from "../dtype.js";

export interface MatmulKernels {
  /**
   * Batched C[b] = op(A[b]) · op(B[b]), written over every element of C (which arrives with
   * unspecified contents: ops do not zero-fill it), with op(A[b]): m×k, op(B[b]): k×n, C[b]:
   * m×n, all row-major; op(X) = Xᵀ where transA/transB is set (A[b] stored k×m, B[b] stored
   * n×k). A[b] and B[b] start at the given offsets (equal offsets share a broadcast matrix);
   * C[b] at b·m·n.
   */
  matmul(
    a: FloatArray,
    aOffsets: readonly number[],
    b: FloatArray,
    bOffsets: readonly number[],
    c: FloatArray,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): void;
}

// Transposes are flags rather than materialised copies because the blocked kernel packs every
// panel anyway: packing reads A and B through (row, column) strides, so op(X) = Xᵀ only swaps
// the strides and costs nothing. The vjp's dy·Bᵀ and Aᵀ·dy then need no transpose op, and a
// WebAssembly kernel can implement the same four layouts the same way (as BLAS does).

/** Rows and columns of the register tile: a 4×4 block of C kept in 16 local accumulators. */
const MR = 4;
const NR = 4;
/**
 * Cache blocking, in elements of the float64 packing buffers: a KC×NR sliver of B (8 KiB) stays
 * in L1 while it meets every MR×KC sliver of the packed MC×KC block of A (128 KiB, in L2); the
 * packed KC×NC panel of B (1 MiB) stays in L2/L3 while the blocks of A stream past it.
 */
const MC = 64;
const KC = 256;
const NC = 512;
/**
 * Products smaller than this many multiply-adds skip packing, as do products with 1 or 2 rows or
 * columns, where most of each 4×4 tile would be zero padding. Chosen by measurement: see
 * docs/performance.md#wasm-thresholds-and-kernel-choices.
 */
const DIRECT_LIMIT = 8 * 8 * 8;
const DIRECT_WIDTH = 2;

// Packing buffers are reused across calls (kernels never re-enter) and always float64: JavaScript
// computes in doubles anyway, so one monomorphic micro-kernel serves float32 and float64 inputs
// and float32 elements are widened once when packed instead of on every use. Sums are exact
// float64 sums of the products within a KC block and are rounded into C, in C's own precision,
// after each block: a float32 result is a float32 array at least as accurate as float32 math.
const packedA = new Float64Array(MC * KC);
let packedB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

/** C[b] += op(A[b])·op(B[b]): folds broadcast batches into one product, then picks a kernel. */
function matmul(
  a: FloatArray,
  aOffsets: readonly number[],
  b: FloatArray,
  bOffsets: readonly number[],
  c: FloatArray,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  // The blocked kernel adds into C; k = 0 leaves it all zero, an empty sum.
  c.fill(0);
  const batches = aOffsets.length;
  if (batches === 0 || m === 0 || n === 0 || k === 0) return;
  // [batch, m, k] · [k, n] with one shared B is a single (batch·m)×k · k×n product: the rows of
  // consecutive A matrices and of C are contiguous, and B is packed once instead of per batch.
  if (batches > 1 && !transA && foldable(aOffsets, bOffsets, m * k)) {
    gemm(a, aOffsets[0]!, b, bOffsets[0]!, c, 0, batches * m, k, n, false, transB);
    return;
  }
  for (let i = 0; i < batches; i++) {
    gemm(a, aOffsets[i]!, b, bOffsets[i]!, c, i * m * n, m, k, n, transA, transB);
  }
}

/** True when every batch shares B and the A matrices follow each other with no gaps. */
function foldable(aOffsets: readonly number[], bOffsets: readonly number[], aSize: number) {
  const a0 = aOffsets[0]!;
  const b0 = bOffsets[0]!;
  for (let i = 1; i < aOffsets.length; i++) {
    if (bOffsets[i] !== b0 || aOffsets[i] !== a0 + i * aSize) return false;
  }
  return true;
}

/**
 * @internal One product C += op(A)·op(B) at the given offsets: blocked unless it is too small to
 * pay off. Shared by the batched matmul and the conv kernels.
 */
export function gemm(
  a: FloatArray,
  ao: number,
  b: FloatArray,
  bo: number,
  c: FloatArray,
  co: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  const small = m <= DIRECT_WIDTH || n <= DIRECT_WIDTH || m * n * k < DIRECT_LIMIT;
  (small ? gemmDirect : gemmBlocked)(a, ao, b, bo, c, co, m, k, n, transA, transB);
}

/**
 * @internal Unblocked C += op(A)·op(B) for small or skinny products (matrix·vector included): the
 * inner loop runs along a contiguous row of B and C when B is not transposed, else as a dot
 * product along a contiguous row of the stored B.
 */
export function gemmDirect(
  a: FloatArray,
  ao: number,
  b: FloatArray,
  bo: number,
  c: FloatArray,
  co: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  if (!transB) {
    for (let i = 0; i < m; i++) {
      const ci = co + i * n;
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * aRow + p * aCol]!;
        const bp = bo + p * n;
        for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j]!;
      }
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const ai = ao + i * aRow;
    for (let j = 0; j < n; j++) {
      const bj = bo + j * k;
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[ai + p * aCol]! * b[bj + p]!;
      c[co + i * n + j] += acc;
    }
  }
}

/**
 * @internal Cache-blocked C += op(A)·op(B), the GotoBLAS loop nest: for each KC×NC panel of op(B)
 * packed into NR-wide slivers and each MC×KC block of op(A) packed into MR-tall slivers, a 4×4
 * register-tiled micro-kernel adds every sliver pair's product into C. Edge slivers are 0-padded.
 */
export function gemmBlocked(
  a: FloatArray,
  ao: number,
  b: FloatArray,
  bo: number,
  c: FloatArray,
  co: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  // Element (i, p) of op(A) is a[ao + i·aRow + p·aCol], (p, j) of op(B) is b[bo + p·bRow + j·bCol].
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  const bRow = transB ? 1 : n;
  const bCol = transB ? k : 1;
  const kcMax = Math.min(KC, k);
  const ncMax = Math.min(NC, roundUp(n, NR));
  if (packedB.length < kcMax * ncMax) packedB = new Float64Array(kcMax * ncMax);
  const pa = packedA;
  const pb = packedB;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packPanel(b, bo + pc * bRow + jc * bCol, bRow, bCol, kc, nc, NR, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        // A is packed transposed (its sliver index runs along rows), so its strides swap roles.
        packPanel(a, ao + ic * aRow + pc * aCol, aCol, aRow, kc, mc, MR, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const w = Math.min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            const h = Math.min(MR, mc - ir);
            microKernel(pa, ir * kc, pb, jr * kc, kc, c, co + (ic + ir) * n + jc + jr, n, h, w);
          }
        }
      }
    }
  }
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * Packs a depth×width block of a strided matrix (element (p, j) at src[offset + p·rowStride +
 * j·colStride]) into width-`sliver` column slivers, each depth×sliver row-major and contiguous,
 * zero-padding the last sliver so the micro-kernel never needs a bounds test.
 */
function packPanel(
  src: FloatArray,
  offset: number,
  rowStride: number,
  colStride: number,
  depth: number,
  width: number,
  sliver: number,
  out: Float64Array,
): void {
  let d = 0;
  for (let j0 = 0; j0 < width; j0 += sliver) {
    const w = Math.min(sliver, width - j0);
    for (let p = 0; p < depth; p++) {
      const row = offset + p * rowStride + j0 * colStride;
      let j = 0;
      for (; j < w; j++) out[d++] = src[row + j * colStride]!;
      for (; j < sliver; j++) out[d++] = 0;
    }
  }
}

/**
 * C[h×w tile at co, row stride ldc] += (packed A sliver at ao)·(packed B sliver at bo) over kc
 * steps. The 16 sums live in locals (registers or stack slots), so each step loads 8 numbers for
 * 16 multiply-adds; a partial edge tile (h or w < 4) goes through a scratch tile instead.
 */
function microKernel(
  pa: Float64Array,
  ao: number,
  pb: Float64Array,
  bo: number,
  kc: number,
  c: FloatArray,
  co: number,
  ldc: number,
  h: number,
  w: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0,
    c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0,
    c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  const end = ao + MR * kc;
  for (; ao < end; ao += MR, bo += NR) {
    const b0 = pb[bo]!,
      b1 = pb[bo + 1]!,
      b2 = pb[bo + 2]!,
      b3 = pb[bo + 3]!;
    let x = pa[ao]!;
    c00 += x * b0;
    c01 += x * b1;
    c02 += x * b2;
    c03 += x * b3;
    x = pa[ao + 1]!;
    c10 += x * b0;
    c11 += x * b1;
    c12 += x * b2;
    c13 += x * b3;
    x = pa[ao + 2]!;
    c20 += x * b0;
    c21 += x * b1;
    c22 += x * b2;
    c23 += x * b3;
    x = pa[ao + 3]!;
    c30 += x * b0;
    c31 += x * b1;
    c32 += x * b2;
    c33 += x * b3;
  }
  if (h === MR && w === NR) {
    c[co] += c00;
    c[co + 1] += c01;
    c[co + 2] += c02;
    c[co + 3] += c03;
    co += ldc;
    c[co] += c10;
    c[co + 1] += c11;
    c[co + 2] += c12;
    c[co + 3] += c13;
    co += ldc;
    c[co] += c20;
    c[co + 1] += c21;
    c[co + 2] += c22;
    c[co + 3] += c23;
    co += ldc;
    c[co] += c30;
    c[co + 1] += c31;
    c[co + 2] += c32;
    c[co + 3] += c33;
    return;
  }
  const t = edgeTile;
  t[0] = c00;
  t[1] = c01;
  t[2] = c02;
  t[3] = c03;
  t[4] = c10;
  t[5] = c11;
  t[6] = c12;
  t[7] = c13;
  t[8] = c20;
  t[9] = c21;
  t[10] = c22;
  t[11] = c23;
  t[12] = c30;
  t[13] = c31;
  t[14] = c32;
  t[15] = c33;
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) c[co + i * ldc + j] += t[i * NR + j]!;
}

export const jsMatmulKernels: MatmulKernels = { matmul };
