import {
  getBackend,
  matmul,
  prng,
  registerBackend,
  setBackend,
  type FloatArray,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";

/** One square product to time: n×n·n×n in `dtype`, on the named backend. */
export interface MatmulCase {
  readonly n: number;
  readonly dtype: FloatDType;
  readonly backend: string;
  /** Untimed calls first, so the JIT has optimised the kernel and buffers are allocated. */
  readonly warmup: number;
  readonly runs: number;
}

export interface MatmulResult extends MatmulCase {
  readonly medianMs: number;
  /** 2n³ floating-point operations over the median time, in 10⁹ per second. */
  readonly gflops: number;
  /** The last product, for cross-checking backends. */
  readonly output: Tensor;
}

/**
 * The textbook i-p-j loop, registered as backend "naive" so that it is timed through the same
 * public `matmul` op (shape checks, allocation and all) as the blocked js kernel.
 */
function naiveMatmul(
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
  const [aRow, aCol] = transA ? [1, m] : [k, 1];
  const [bRow, bCol] = transB ? [1, k] : [n, 1];
  for (let batch = 0; batch < aOffsets.length; batch++) {
    const ao = aOffsets[batch]!;
    const bo = bOffsets[batch]!;
    const co = batch * m * n;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * aRow + p * aCol]!;
        for (let j = 0; j < n; j++) c[co + i * n + j] += av * b[bo + p * bRow + j * bCol]!;
      }
    }
  }
}

registerBackend({ name: "naive", kernels: { matmul: naiveMatmul } });

/** Times `matmul(a, b)` for one case and reports the median over `runs` timed calls. */
export function timeMatmul(spec: MatmulCase): MatmulResult {
  const rng = prng(spec.n);
  const a = rng.normal([spec.n, spec.n], { dtype: spec.dtype });
  const b = rng.normal([spec.n, spec.n], { dtype: spec.dtype });
  const previous = getBackend();
  setBackend(spec.backend);
  try {
    let output = matmul(a, b);
    for (let i = 1; i < spec.warmup; i++) output = matmul(a, b);
    const times: number[] = [];
    for (let i = 0; i < spec.runs; i++) {
      const start = performance.now();
      output = matmul(a, b);
      times.push(performance.now() - start);
    }
    times.sort((x, y) => x - y);
    const mid = times.length >> 1;
    const medianMs = times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
    const gflops = (2 * spec.n ** 3) / (medianMs * 1e6);
    return { ...spec, medianMs, gflops, output };
  } finally {
    setBackend(previous);
  }
}

/** The largest |x − y| over two tensors of the same size. */
export function maxAbsDifference(x: Tensor, y: Tensor): number {
  let worst = 0;
  for (let i = 0; i < x.size; i++) worst = Math.max(worst, Math.abs(x.data[i]! - y.data[i]!));
  return worst;
}
