import { availableParallelism } from "node:os";
import { maxAbsDifference, timeMatmul, type MatmulCase, type MatmulResult } from "./matmul.js";

// Square matmuls through the public op: the blocked js kernel against the naive i-p-j loop at
// 512³ (float32 and float64), and the blocked kernel alone at 1024³ float32, where the naive loop
// would take seconds per call. Each line is the median of several calls after warm-up.
const cases: MatmulCase[] = [
  { n: 512, dtype: "float32", backend: "js", warmup: 3, runs: 9 },
  { n: 512, dtype: "float32", backend: "naive", warmup: 2, runs: 5 },
  { n: 512, dtype: "float64", backend: "js", warmup: 3, runs: 9 },
  { n: 512, dtype: "float64", backend: "naive", warmup: 2, runs: 5 },
  { n: 1024, dtype: "float32", backend: "js", warmup: 2, runs: 5 },
];

console.log(
  `matmul, Node ${process.version}, ${availableParallelism()} CPUs (single-threaded kernels)`,
);
console.log("size             dtype    kernel            median ms   GFLOP/s");
const results: MatmulResult[] = [];
for (const spec of cases) {
  const result = timeMatmul(spec);
  results.push(result);
  const kernel = spec.backend === "js" ? "blocked (js)" : spec.backend;
  console.log(
    `${`${spec.n}×${spec.n}×${spec.n}`.padEnd(17)}${spec.dtype.padEnd(9)}${kernel.padEnd(18)}` +
      `${result.medianMs.toFixed(1).padStart(9)}${result.gflops.toFixed(2).padStart(10)}`,
  );
}

// Both kernels must agree (up to summation order) for the speed-up to mean anything.
for (const dtype of ["float32", "float64"] as const) {
  const blocked = results.find((r) => r.n === 512 && r.dtype === dtype && r.backend === "js");
  const naive = results.find((r) => r.n === 512 && r.dtype === dtype && r.backend === "naive");
  if (blocked === undefined || naive === undefined) continue;
  const speedup = (blocked.gflops / naive.gflops).toFixed(1);
  const difference = maxAbsDifference(blocked.output, naive.output).toExponential(1);
  console.log(
    `512³ ${dtype}: blocked is ${speedup}× the naive loop; max |difference| ${difference}`,
  );
}
