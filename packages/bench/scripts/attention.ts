// What the fused attention op saves and what a transformer layer's training step costs, in one
// run, float32 on the default backend:
//  1. fwd+bwd of attention at batch 32, 4 heads, sequence 128, head size 32 (the gradient of
//     Σ out·c for a fixed random c, w.r.t. q, k and v): scaledDotProductAttention against the
//     same computation composed of matmul, mul and softmax. Median time and the bytes the tape
//     holds at its peak (profileTape), with the ratios, and how far the gradients differ.
//  2. one training step of transformerEncoderLayer (d 128, 4 heads, feed-forward 512, sequence
//     64, batch 32, batchFirst, dropout 0): forward, mse against a random target, backward and
//     an Adam update; beside it the same step of PyTorch's nn.TransformerEncoderLayer
//     (scripts/attention_torch.py, run with /usr/bin/python3 on 2 threads) where torch is there.
// Run: npx -y pnpm@10 --filter @tapegrad/bench run attention (or, in packages/bench,
// npx tsx --initial-old-space-size=256 scripts/attention.ts)
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import type { Tensor } from "@tapegrad/autodiff";
import { printMachine, runTorch, type TorchProcess } from "../src/torch.js";
import type { Timing, TimingOptions } from "../src/timing.js";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag. --expose-gc
// lets timing.ts collect before each cell; it reads `gc` when it loads, hence the dynamic
// imports below.
setFlagsFromString("--experimental-wasm-relaxed-simd");
setFlagsFromString("--expose-gc");
const ad = await import("@tapegrad/autodiff");
const { mse, optim, transformerEncoderLayer } = await import("@tapegrad/nn");
const { timeAdaptive } = await import("../src/timing.js");
const { compare, formatMs, formatRatio } = await import("../src/report.js");

const TORCH_SCRIPT = fileURLToPath(new URL("./attention_torch.py", import.meta.url));

/**
 * More runs than the main bench's cells (each cell here is a single workload, tens to hundreds
 * of milliseconds a call): a steadier median, the whole script still within a few minutes.
 * attention_torch.py gets the same rule.
 */
const timing: TimingOptions = {
  warmup: 40,
  warmupBudgetMs: 2000,
  minRuns: 10,
  maxRuns: 50,
  budgetMs: 5000,
};

const [BATCH, HEADS, SEQUENCE, HEAD_SIZE] = [32, 4, 128, 32];
const LAYER = { D_MODEL: 128, HEADS: 4, FEEDFORWARD: 512, SEQUENCE: 64, BATCH: 32 } as const;

type Attention = (q: Tensor, k: Tensor, v: Tensor) => Tensor;

/** softmax(q·kᵀ/√E)·v from separate ops, whose tape holds [B, H, L, L] scores and probabilities. */
const composed: Attention = (q, k, v) =>
  ad.matmul(ad.softmax(ad.mul(ad.matmul(q, k, { transB: true }), 1 / Math.sqrt(HEAD_SIZE)), -1), v);
const fused: Attention = (q, k, v) => ad.scaledDotProductAttention(q, k, v);

interface AttentionCell {
  readonly name: string;
  readonly timing: Timing;
  readonly peakBytes: number;
  readonly grads: readonly Tensor[];
}

function timeAttention(name: string, attention: Attention): AttentionCell {
  const rng = ad.prng(0);
  const [q, k, v, cotangent] = [0, 1, 2, 3].map(() =>
    rng.normal([BATCH, HEADS, SEQUENCE, HEAD_SIZE]),
  ) as [Tensor, Tensor, Tensor, Tensor];
  const gradients = ad.grad(
    (qi: Tensor, ki: Tensor, vi: Tensor) => ad.sum(ad.mul(attention(qi, ki, vi), cotangent)),
    { argnums: [0, 1, 2] },
  );
  const profile = ad.profileTape(() => gradients(q, k, v));
  const t = timeAdaptive(() => void gradients(q, k, v), timing);
  return { name, timing: t, peakBytes: profile.peakBytes, grads: profile.value };
}

/** Median of a transformerEncoderLayer training step in tapegrad, Adam included. */
function timeTransformerStep(): Timing {
  const layer = transformerEncoderLayer({
    dModel: LAYER.D_MODEL,
    numHeads: LAYER.HEADS,
    dimFeedforward: LAYER.FEEDFORWARD,
    dropout: 0,
    batchFirst: true,
  });
  let params = layer.init(ad.prng(1)).params;
  const x = ad.prng(2).normal([LAYER.BATCH, LAYER.SEQUENCE, LAYER.D_MODEL]);
  const target = ad.prng(3).normal([LAYER.BATCH, LAYER.SEQUENCE, LAYER.D_MODEL]);
  const lossAndGrads = ad.valueAndGrad((p: unknown) =>
    mse(layer.apply(p, x, { training: true }), target),
  );
  const adam = optim.adam({ lr: 1e-3 });
  let state = adam.init(params);
  return timeAdaptive(() => {
    const [loss, grads] = lossAndGrads(params);
    [params, state] = adam.update(grads, state, params);
    loss.item();
  }, timing);
}

interface TorchResult extends TorchProcess {
  readonly medianMs: number;
  readonly runs: number;
}

/** The largest |fused − composed| over the three gradients, and the largest |composed|. */
function agreement(a: AttentionCell, b: AttentionCell): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  a.grads.forEach((g, i) => {
    const c = compare(g.data as Float32Array, b.grads[i]!.data as Float32Array);
    if (typeof c === "string") throw new Error(`attention: gradient ${i} ${c}`);
    diff = Math.max(diff, c.diff);
    scale = Math.max(scale, c.scale);
  });
  return { diff, scale };
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(2);
const backend = ad.getBackend();
const backendText =
  backend === "wasm" ? `wasm ×${ad.wasmThreads()} (${ad.wasmVariant()} build)` : backend;
const started = performance.now();

const load = loadavg();
const cells = [timeAttention("fused scaledDotProductAttention", fused)];
cells.push(timeAttention("composed: matmul, mul, softmax, matmul", composed));
const tapegradStep = timeTransformerStep();
const torchStep = runTorch<TorchResult>(TORCH_SCRIPT, timing);

printMachine(load, backendText, torchStep, (performance.now() - started) / 1000);

const [f, c] = cells as [AttentionCell, AttentionCell];
console.log(
  `scaledDotProductAttention fwd+bwd, q, k, v [${BATCH}, ${HEADS}, ${SEQUENCE}, ${HEAD_SIZE}] ` +
    "float32: gradient of Σ out·c (c fixed, random) w.r.t. q, k, v",
);
console.log();
console.log("| variant | median (ms) | runs | tape peak (MB) |");
console.log("| --- | --- | --- | --- |");
for (const cell of cells) {
  const { medianMs, runs } = cell.timing;
  console.log(`| ${cell.name} | ${formatMs(medianMs)} | ${runs} | ${megabytes(cell.peakBytes)} |`);
}
const timeRatio = formatRatio(c.timing.medianMs / f.timing.medianMs);
const memoryRatio = formatRatio(c.peakBytes / f.peakBytes);
console.log(`| composed / fused | ${timeRatio} | | ${memoryRatio} |`);
const { diff, scale } = agreement(f, c);
console.log();
console.log(
  `Gradients: max |fused − composed| = ${diff.toExponential(1)} (max |gradient| ` +
    `${scale.toPrecision(3)}). The tape peak counts the product out·c besides the attention.`,
);
console.log();

console.log(
  `transformerEncoderLayer training step: d ${LAYER.D_MODEL}, ${LAYER.HEADS} heads, feed-forward ` +
    `${LAYER.FEEDFORWARD}, sequence ${LAYER.SEQUENCE}, batch ${LAYER.BATCH}, batchFirst, dropout 0, ` +
    "float32; forward, mse, backward and the Adam update (lr 1e-3)",
);
console.log();
console.log("| implementation | median (ms) | runs |");
console.log("| --- | --- | --- |");
console.log(
  `| tapegrad ${backendText} | ${formatMs(tapegradStep.medianMs)} | ${tapegradStep.runs} |`,
);
if (typeof torchStep === "string") {
  console.log(`| PyTorch | skipped: ${torchStep} | |`);
} else {
  const name = `PyTorch ${torchStep.torch}, ${torchStep.threads} threads`;
  console.log(`| ${name} | ${formatMs(torchStep.medianMs)} | ${torchStep.runs} |`);
  const ratio = formatRatio(tapegradStep.medianMs / torchStep.medianMs);
  console.log(`| tapegrad / PyTorch | ${ratio} | |`);
}
