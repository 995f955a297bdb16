import { gemmF32, gemmF32Part } from "./gemm";
import { gemmF64, gemmF64Part } from "./gemm64";

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
 * many, else a block of every product (see gemmF32Part).
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
    if (f64) {
      if (byProduct) gemmF64(a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch);
      else gemmF64Part(a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch, tid, threads);
    } else if (byProduct) {
      gemmF32(a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch);
    } else {
      gemmF32Part(a, ars, acs, b, brs, bcs, c, n, m, k, n, scratch, tid, threads);
    }
  }
}
