import { MR as MR32, NR as NR32, gemmF32 } from "./gemm";
import { MR as MR64, NR as NR64, gemmF64 } from "./gemm64";

/** Batched matmul arguments as the JavaScript side writes them: consecutive i32s at `args`. */
@unmanaged
class MatmulArgs {
  m: i32;
  k: i32;
  n: i32;
  /** op(A)(i, p) = A[i·ars + p·acs], op(B)(p, j) = B[p·brs + j·bcs], in elements. */
  ars: i32;
  acs: i32;
  brs: i32;
  bcs: i32;
  batches: i32;
  /** Byte addresses of each batch's A and B: `batches` i32s each. */
  aAddresses: usize;
  bAddresses: usize;
  /** C[b] is the m×n matrix at c + b·m·n·4. */
  c: usize;
  /** Thread t's GEMM scratch starts at scratch + t·scratchStride. */
  scratch: usize;
  scratchStride: i32;
  /** 1 for float64 operands, 0 for float32. */
  f64: i32;
}

/**
 * C[b] += op(A[b])·op(B[b]) for this thread's share: whole products round-robin when there are
 * many, else a block of every product (see gemmPart).
 */
export function matmulTask(args: usize, tid: i32, threads: i32): void {
  const q = changetype<MatmulArgs>(args);
  const m = q.m;
  const k = q.k;
  const n = q.n;
  const batches = q.batches;
  const scratch = q.scratch + <usize>tid * q.scratchStride;
  const f64 = q.f64 != 0;
  const cSize = <usize>(m * n) * (f64 ? 8 : 4);
  const byProduct = threads > 1 && (batches % threads == 0 || batches >= 4 * threads);
  for (let i = byProduct ? tid : 0; i < batches; i += byProduct ? threads : 1) {
    const a = <usize>load<i32>(q.aAddresses + <usize>i * 4);
    const b = <usize>load<i32>(q.bAddresses + <usize>i * 4);
    const c = q.c + <usize>i * cSize;
    const ars = q.ars;
    const acs = q.acs;
    const brs = q.brs;
    const bcs = q.bcs;
    if (byProduct) gemm(f64, a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch);
    else gemmPart(f64, a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch, tid, threads);
  }
}

/** One float32 or float64 product C += op(A)·op(B) (strides in elements, ldc C's row stride). */
function gemm(
  f64: bool,
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
  if (f64) gemmF64(a, ars, acs, b, brs, bcs, c, ldc, m, k, n, scratch);
  else gemmF32(a, ars, acs, b, brs, bcs, c, ldc, m, k, n, scratch);
}

/** Where thread `tid` of `threads` starts on `extent` items dealt in whole `unit`s. */
function shareStart(extent: i32, unit: i32, tid: i32, threads: i32): i32 {
  const units = (extent + unit - 1) / unit;
  return min(extent, <i32>((<i64>units * tid) / threads) * unit);
}

/**
 * The share of an m×n product that thread `tid` of `threads` computes: C is split into column
 * blocks (whole NR slivers) when it is at least as wide as tall, else into row blocks (whole MR
 * slivers), so every element is summed by one thread in the same order whatever the thread count.
 */
function gemmPart(
  f64: bool,
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
  tid: i32,
  threads: i32,
): void {
  const bytes: usize = f64 ? 8 : 4;
  const byColumns = n >= m;
  const extent = byColumns ? n : m;
  const unit = byColumns ? (f64 ? NR64 : NR32) : f64 ? MR64 : MR32;
  const start = shareStart(extent, unit, tid, threads);
  const end = shareStart(extent, unit, tid + 1, threads);
  if (end <= start) return;
  if (byColumns) {
    gemm(
      f64,
      a,
      ars,
      acs,
      b + <usize>(start * bcs) * bytes,
      brs,
      bcs,
      c + <usize>start * bytes,
      ldc,
      m,
      k,
      end - start,
      scratch,
    );
  } else {
    gemm(
      f64,
      a + <usize>(start * ars) * bytes,
      ars,
      acs,
      b,
      brs,
      bcs,
      c + <usize>(start * ldc) * bytes,
      ldc,
      end - start,
      k,
      n,
      scratch,
    );
  }
}
