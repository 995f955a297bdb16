// The CPU cells of the jit work against PyTorch, in one run: each cell in tapegrad on the default
// backend (wasm on every core), then at once in PyTorch (scripts/cpu_targets_torch.py,
// /usr/bin/python3 on 2 threads, with whatever BLAS Debian's alternatives select: OpenBLAS once
// libopenblas0-pthread is installed; the fastest of three processes), with the same repetition
// rule:
//  - LeNet-5 and ResNet (`pnpm train`'s models) training steps at batch 64: forward, mean
//    cross-entropy, backward and Adam at lr 1e-3, jitted with the old parameters and state
//    donated as `pnpm train` runs them (PyTorch: eager, its only mode for these), cycling through
//    16 random batches (on one batch a model soon fits it, and its gradients sink into subnormal
//    numbers, whose arithmetic is many times slower on either side);
//  - conv 32×32×32×32 → 64 3×3 and LeNet's conv2 64×6×12×12 → 16 5×5, fwd+bwd (bias included,
//    gradients w.r.t. input, weight and bias for a fixed cotangent), in GFLOP/s as the bench
//    counts them (3 × the forward's);
//  - matmul 1024³.
// Prints one table with the targets. Run: npx -y pnpm@10 --filter @tapegrad/bench run
// cpu-targets (or, in packages/bench, npx tsx scripts/cpuTargets.ts).
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import type { Tensor } from "@tapegrad/autodiff";
import { printMachine, runTorch, type TorchProcess } from "../src/torch.js";
import type { TimingOptions } from "../src/timing.js";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag. --expose-gc
// lets timing.ts collect before each cell; it reads `gc` when it loads, hence the dynamic
// imports below.
setFlagsFromString("--experimental-wasm-relaxed-simd");
setFlagsFromString("--expose-gc");
const ad = await import("@tapegrad/autodiff");
const { trainingStep } = await import("../src/trainingStep.js");
const { timeAdaptive } = await import("../src/timing.js");
const { formatMs, formatRatio } = await import("../src/report.js");

const TORCH_SCRIPT = fileURLToPath(new URL("./cpu_targets_torch.py", import.meta.url));
const BATCH = 64;
/** PyTorch processes per cell, of which the fastest counts. */
const TORCH_PROCESSES = 3;
/** Distinct batches a training step cycles through. */
const BATCHES = 16;

/**
 * A jitted step reaches its steady state after a few hundred calls (its memory plan recorded, the
 * kernels' resident ring grown, V8's optimising tier done): the warm-up allows them, within a
 * budget that a slow cell ends early. PyTorch's script gets the same rule.
 */
const timing: TimingOptions = {
  warmup: 300,
  warmupBudgetMs: 4000,
  minRuns: 10,
  maxRuns: 500,
  budgetMs: 4000,
};

/** `pnpm train`'s jitted training step of `name`, cycling through BATCHES random batches. */
function cyclingStep(name: "lenet" | "resnet"): () => void {
  const step = trainingStep(name, { lr: 1e-3, jitted: true });
  const xs = Array.from({ length: BATCHES }, (_, i) => ad.prng(10 + i).normal([BATCH, 1, 28, 28]));
  const ys = Array.from({ length: BATCHES }, (_, i) => ad.prng(50 + i).randint(0, 10, [BATCH]));
  let calls = 0;
  return () => {
    const i = calls++ % BATCHES;
    step(xs[i]!, ys[i]!).item();
  };
}

/** conv2d with bias and its three gradients for a fixed cotangent. */
function convStep(n: number, cin: number, cout: number, size: number, k: number, padding: number) {
  const rng = ad.prng(3);
  const x = rng.normal([n, cin, size, size]);
  const w = rng.normal([cout, cin, k, k], { std: 1 / Math.sqrt(cin * k * k) });
  const b = rng.normal([cout], { std: 0.1 });
  const out = size + 2 * padding - k + 1;
  const dy = rng.normal([n, cout, out, out]);
  const forward = (xi: Tensor, wi: Tensor, bi: Tensor) => ad.conv2d(xi, wi, { bias: bi, padding });
  return () => {
    const [, pullback] = ad.vjp(forward, x, w, b);
    pullback(dy);
  };
}

/** Floating-point operations of a conv's fwd+bwd, 3 × the forward's, as the bench counts them. */
const convFlops = (n: number, cin: number, cout: number, out: number, k: number) =>
  3 * 2 * n * cout * out * out * cin * k * k;

function matmulStep(): () => void {
  const a = ad.prng(4).normal([1024, 1024]);
  const b = ad.prng(5).normal([1024, 1024]);
  return () => void ad.matmul(a, b);
}

interface Cell {
  readonly key: string;
  readonly name: string;
  /** Makes the cell's data and returns one call: each cell's data lives only while it is timed. */
  readonly prepare: () => () => void;
  /** Floating-point operations of one call, for GFLOP/s. */
  readonly flops?: number;
  /** The target for tapegrad, as text, and whether a median meets it. */
  readonly target: string;
  readonly meets: (ms: number, torchMs: number | undefined) => boolean;
}

const gflops = (flops: number, ms: number) => flops / ms / 1e6;
const CONV32_FLOPS = convFlops(32, 32, 64, 32, 3);
const MATMUL_FLOPS = 2 * 1024 ** 3;
const cells: Cell[] = [
  {
    key: "lenetStep",
    name: "LeNet-5 training step, batch 64",
    prepare: () => cyclingStep("lenet"),
    target: "≤ 4 ms and ≤ PyTorch",
    meets: (ms, torch) => ms <= 4 && (torch === undefined || ms <= torch),
  },
  {
    key: "resnetStep",
    name: "ResNet training step, batch 64",
    prepare: () => cyclingStep("resnet"),
    target: "≤ PyTorch",
    meets: (ms, torch) => torch !== undefined && ms <= torch,
  },
  {
    key: "conv32to64",
    name: "conv 32×32×32×32→64 3×3 fwd+bwd",
    prepare: () => convStep(32, 32, 64, 32, 3, 1),
    flops: CONV32_FLOPS,
    target: "≥ 100 GFLOP/s",
    meets: (ms) => gflops(CONV32_FLOPS, ms) >= 100,
  },
  {
    key: "lenetConv2",
    name: "LeNet conv2 64×6×12×12→16 5×5 fwd+bwd",
    prepare: () => convStep(64, 6, 16, 12, 5, 0),
    flops: convFlops(64, 6, 16, 8, 5),
    target: "≤ 1.2 ms",
    meets: (ms) => ms <= 1.2,
  },
  {
    key: "matmul1024",
    name: "matmul 1024³",
    prepare: matmulStep,
    flops: MATMUL_FLOPS,
    target: "≥ 100 GFLOP/s",
    meets: (ms) => gflops(MATMUL_FLOPS, ms) >= 100,
  },
];

interface TorchResult extends TorchProcess {
  readonly medianMs: Readonly<Record<string, number>>;
}

// Each cell runs in tapegrad and then at once in PyTorch: the machine's speed drifts from minute
// to minute, and a ratio holds only between times taken close together.
const load = loadavg();
const started = performance.now();
const medians: number[] = [];
const torchMedians: (number | undefined)[] = [];
let torch: TorchResult | string = "not run";
for (const cell of cells) {
  medians.push(timeAdaptive(cell.prepare(), timing).medianMs);
  // PyTorch's times are bimodal from one process to the next on a 2-core machine (several times
  // slower in some, with any thread setting): the best of three processes is its speed.
  let best: number | undefined;
  for (let run = 0; run < TORCH_PROCESSES; run++) {
    torch = runTorch<TorchResult>(TORCH_SCRIPT, timing, ["--cells", cell.key]);
    const ms = typeof torch === "string" ? undefined : torch.medianMs[cell.key];
    if (ms !== undefined && (best === undefined || ms < best)) best = ms;
  }
  torchMedians.push(best);
}
const backend = ad.getBackend();
const backendText =
  backend === "wasm" ? `wasm ×${ad.wasmThreads()} (${ad.wasmVariant()} build)` : backend;
printMachine(load, backendText, torch, (performance.now() - started) / 1000);

const rate = (cell: Cell, ms: number | undefined) =>
  cell.flops === undefined || ms === undefined ? "" : ` (${gflops(cell.flops, ms).toFixed(1)})`;
console.log(
  "| cell | tapegrad ms (GFLOP/s) | PyTorch ms (GFLOP/s) | tapegrad / PyTorch | target | met |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
cells.forEach((cell, i) => {
  const ms = medians[i]!;
  const torchMs = torchMedians[i];
  const torchText = torchMs === undefined ? `— (${torch as string})` : formatMs(torchMs);
  const ratio = torchMs === undefined ? "—" : formatRatio(ms / torchMs);
  console.log(
    `| ${cell.name} | ${formatMs(ms)}${rate(cell, ms)} | ${torchText}${rate(cell, torchMs)} | ` +
      `${ratio} | ${cell.target} | ${cell.meets(ms, torchMs) ? "yes" : "no"} |`,
  );
});
