import { availableParallelism } from "node:os";
import { benchConv, convCases, convShape, type CellTiming, type ConvResult } from "./conv.js";
import { maxAbsDifference, timeMatmul, type MatmulCase, type MatmulResult } from "./matmul.js";
import { loadTfjs, tfjsVersion } from "./tfjs.js";

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

// Convolution through the public conv2d op against TensorFlow.js on its pure-JS cpu backend
// (the full @tensorflow/tfjs package, no tfjs-node), same data and FLOPs: tapegrad in NCHW,
// tfjs in NHWC (its cpu conv kernels' layout). Forward is conv + bias; fwd+bwd is one forward
// plus the gradients w.r.t. input, weight and bias. Each cell is the median of an adaptive
// number of calls (≥ 3, ~2 s) after warm-up; speed-up is tapegrad's speed over tfjs's.
const tf = await loadTfjs();
console.log();
console.log(
  `conv2d float32, stride 1: tapegrad (NCHW) vs ${tfjsVersion(tf)} (NHWC, same data transposed)`,
);
console.log(
  `${"workload".padEnd(33)}${"pass".padEnd(9)}${"tapegrad ms ".padStart(12)}${"GFLOP/s".padStart(9)}` +
    `${"tfjs ms ".padStart(11)}${"GFLOP/s".padStart(9)}${"speed-up".padStart(10)}` +
    `${"runs tg/tf".padStart(12)}`,
);
const convResults: ConvResult[] = [];
const scaledNotes: string[] = [];
for (const spec of convCases) {
  const result = benchConv(tf, spec);
  convResults.push(result);
  for (const { pass, flops, tapegrad, tfjs } of result.cells) {
    const gflops = (t: CellTiming) => (flops / (t.medianMs * 1e6)).toFixed(2);
    // A cell timed on a smaller batch and scaled (see callCapMs) is marked with *.
    const ms = (t: CellTiming) => `${t.medianMs.toFixed(1)}${t.batch < spec.n ? "*" : " "}`;
    for (const [side, t] of [
      ["tapegrad", tapegrad],
      ["tfjs", tfjs],
    ] as const) {
      if (t.batch < spec.n) {
        scaledNotes.push(
          `${side} ${spec.label} ${pass}: timed at N=${t.batch}, scaled ×${spec.n / t.batch}`,
        );
      }
    }
    console.log(
      `${`${spec.label} ${convShape(spec)}`.padEnd(33)}${pass.padEnd(9)}` +
        `${ms(tapegrad).padStart(12)}${gflops(tapegrad).padStart(9)}` +
        `${ms(tfjs).padStart(11)}${gflops(tfjs).padStart(9)}` +
        `${`${(tfjs.medianMs / tapegrad.medianMs).toFixed(2)}×`.padStart(10)}` +
        `${`${tapegrad.runs}/${tfjs.runs}`.padStart(12)}`,
    );
  }
}
for (const note of scaledNotes) console.log(`* ${note} (BENCH_FULL=1: full size)`);

// Both libraries must compute the same thing for the comparison to mean anything.
console.log("tapegrad vs tfjs, max |difference| (tfjs results transposed to NCHW / OIHW):");
for (const { spec, agreement: a, tfjsLeak } of convResults) {
  const e = (v: number) => v.toExponential(1);
  const gradsAt = a.gradBatch < spec.n ? ` (grads at N=${a.gradBatch})` : "";
  const leak = tfjsLeak === 0 ? "" : `; tfjs leaked ${tfjsLeak} tensors`;
  console.log(
    `  ${spec.label.padEnd(12)} y ${e(a.y)} (max |y| ${a.yScale.toFixed(1)})` +
      `   dx ${e(a.dx)}   dw ${e(a.dw)}   db ${e(a.db)}${gradsAt}${leak}`,
  );
}
