import type { FloatArray } from "../dtype.js";

export interface MatmulKernels {
  /**
   * Batched C[b] = A[b] · B[b] for row-major A[b]: m×k, B[b]: k×n, C[b]: m×n. The batch offsets
   * of A and B are given per batch entry (in elements) so that broadcast batches share data.
   */
  matmul(a: FloatArray, aOffsets: readonly number[], b: FloatArray, bOffsets: readonly number[], c: FloatArray, m: number, k: number, n: number): void;
}

function matmul(a: FloatArray, aOffsets: readonly number[], b: FloatArray, bOffsets: readonly number[], c: FloatArray, m: number, k: number, n: number): void {
  for (let batch = 0; batch < aOffsets.length; batch++) {
    const ao = aOffsets[batch]!;
    const bo = bOffsets[batch]!;
    const co = batch * m * n;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * k + p]!;
        for (let j = 0; j < n; j++) c[co + i * n + j] = c[co + i * n + j]! + av * b[bo + p * n + j]!;
      }
    }
  }
}

export const jsMatmulKernels: MatmulKernels = { matmul };
