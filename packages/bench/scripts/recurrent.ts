// What the transcendental and recurrent-cell kernels cost, in one run, float32:
//  1. exp, tanh, sigmoid, erf and gelu on 2²⁰ elements: the op on the js backend, and on wasm
//     with 1 thread and with every thread (the results are the same bits on each).
//  2. one training step of a one-layer lstm and gru (input 32, hidden 128, sequence 16, batch 64,
//     batchFirst): forward, mse of every step's output against a random target, backward and an
//     Adam update. nn's layers (the fused lstmCell and gruCell ops) beside the same step with each
//     cell written with primitive ops (slices, sigmoid, tanh, mul, add), and PyTorch's nn.LSTM
//     and nn.GRU (scripts/recurrent_torch.py, run with /usr/bin/python3 on 2 threads) where torch
//     is there.
// Run: npx -y pnpm@10 --filter @tapegrad/bench run recurrent (or, in packages/bench,
// npx tsx --initial-old-space-size=256 scripts/recurrent.ts)
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import type { Tensor } from "@tapegrad/autodiff";
import type { RecurrentParams } from "@tapegrad/nn";
import { printMachine, runTorch, type TorchProcess } from "../src/torch.js";
import type { Timing, TimingOptions } from "../src/timing.js";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag. --expose-gc
// lets timing.ts collect before each cell; it reads `gc` when it loads, hence the dynamic
// imports below.
setFlagsFromString("--experimental-wasm-relaxed-simd");
setFlagsFromString("--expose-gc");
const ad = await import("@tapegrad/autodiff");
const { gru, lstm, mse, optim } = await import("@tapegrad/nn");
const { timeAdaptive } = await import("../src/timing.js");
const { formatMs, formatRatio } = await import("../src/report.js");

const TORCH_SCRIPT = fileURLToPath(new URL("./recurrent_torch.py", import.meta.url));

/** As attention.ts: single workloads of milliseconds to tens of milliseconds a call. */
const timing: TimingOptions = {
  warmup: 40,
  warmupBudgetMs: 2000,
  minRuns: 10,
  maxRuns: 50,
  budgetMs: 4000,
};

const ELEMENTS = 1 << 20;
const KINDS = ["exp", "tanh", "sigmoid", "erf", "gelu"] as const;
const [INPUT, HIDDEN, SEQUENCE, BATCH] = [32, 128, 16, 64];

/** Median of one elementwise op over ELEMENTS normal values, on the backend in use. */
function timeUnary(kind: (typeof KINDS)[number]): Timing {
  const x = ad.prng(0).normal([ELEMENTS], { std: 2 });
  const op = (ad as unknown as Record<string, (t: Tensor) => Tensor>)[kind]!;
  return timeAdaptive(() => void op(x), timing);
}

type Cell = (xs: Tensor, hidden: Tensor, state: Tensor, p: RecurrentParams) => [Tensor, Tensor];

/** Columns [k·H, (k+1)·H) of a [B, G·H] tensor. */
const block = (t: Tensor, k: number) => ad.slice(t, [0, k * HIDDEN], [BATCH, (k + 1) * HIDDEN]);

/** An LSTM step from primitive ops: xs = x·W_ihᵀ + b_ih + b_hh, state = c. */
const composedLstm: Cell = (xs, h, c, p) => {
  const gates = ad.add(xs, ad.matmul(h, p.weight_hh_l0!, { transB: true }));
  const i = ad.sigmoid(block(gates, 0));
  const f = ad.sigmoid(block(gates, 1));
  const g = ad.tanh(block(gates, 2));
  const o = ad.sigmoid(block(gates, 3));
  const cell = ad.add(ad.mul(f, c), ad.mul(i, g));
  return [ad.mul(o, ad.tanh(cell)), cell];
};

/** A GRU step from primitive ops: xs = x·W_ihᵀ + b_ih, the state is h itself. */
const composedGru: Cell = (xs, h, _, p) => {
  const hs = ad.add(ad.matmul(h, p.weight_hh_l0!, { transB: true }), p.bias_hh_l0!);
  const r = ad.sigmoid(ad.add(block(xs, 0), block(hs, 0)));
  const z = ad.sigmoid(ad.add(block(xs, 1), block(hs, 1)));
  const n = ad.tanh(ad.add(block(xs, 2), ad.mul(r, block(hs, 2))));
  const next = ad.add(n, ad.mul(z, ad.sub(h, n)));
  return [next, next];
};

/** The layer's outputs [B, T, H] computed with `cell` over the time loop. */
function composedRun(cell: Cell, lstmBias: boolean, p: RecurrentParams, x: Tensor): Tensor {
  const bias = lstmBias ? ad.add(p.bias_ih_l0!, p.bias_hh_l0!) : p.bias_ih_l0!;
  const projected = ad.add(ad.matmul(x, p.weight_ih_l0!, { transB: true }), bias);
  let h = ad.zeros([BATCH, HIDDEN]);
  let state = ad.zeros([BATCH, HIDDEN]);
  const outputs: Tensor[] = [];
  for (let t = 0; t < SEQUENCE; t++) {
    const xs = ad.reshape(ad.slice(projected, [0, t], [BATCH, t + 1]), [BATCH, -1]);
    [h, state] = cell(xs, h, state, p);
    outputs.push(h);
  }
  return ad.stack(outputs, 1);
}

/** Median of a training step of `forward` (Adam included) with the layer's initial params. */
function timeStep(init: RecurrentParams, forward: (p: RecurrentParams, x: Tensor) => Tensor) {
  let params = init;
  const x = ad.prng(2).normal([BATCH, SEQUENCE, INPUT]);
  const target = ad.prng(3).normal([BATCH, SEQUENCE, HIDDEN]);
  const lossAndGrads = ad.valueAndGrad((p: RecurrentParams) => mse(forward(p, x), target));
  const adam = optim.adam({ lr: 1e-3 });
  let state = adam.init(params);
  const first = lossAndGrads(params)[0].item();
  const t = timeAdaptive(() => {
    const [loss, grads] = lossAndGrads(params);
    [params, state] = adam.update(grads, state, params);
    loss.item();
  }, timing);
  return { timing: t, firstLoss: first };
}

interface TorchResult extends TorchProcess {
  readonly lstmMs: number;
  readonly lstmRuns: number;
  readonly gruMs: number;
  readonly gruRuns: number;
}

const load = loadavg();
const started = performance.now();

const unaryRows = KINDS.map((kind) => {
  ad.setBackend("js");
  const js = timeUnary(kind);
  ad.setBackend("wasm");
  const threads = ad.wasmThreads();
  ad.setWasmThreads(1);
  const one = timeUnary(kind);
  ad.setWasmThreads(threads);
  const all = timeUnary(kind);
  return { kind, js, one, all, threads };
});

const backendText = `wasm ×${ad.wasmThreads()} (${ad.wasmVariant()} build)`;
const layers = [
  { name: "lstm", layer: lstm, cell: composedLstm, lstmBias: true },
  { name: "gru", layer: gru, cell: composedGru, lstmBias: false },
].map(({ name, layer, cell, lstmBias }) => {
  const l = layer({ inputSize: INPUT, hiddenSize: HIDDEN, batchFirst: true });
  const params = l.init(ad.prng(1)).params;
  const fused = timeStep(params, (p, x) => l.apply(p, x));
  const composed = timeStep(params, (p, x) => composedRun(cell, lstmBias, p, x));
  return { name, fused, composed };
});
const torch = runTorch<TorchResult>(TORCH_SCRIPT, timing);

printMachine(load, backendText, torch, (performance.now() - started) / 1000);

const threads = unaryRows[0]!.threads;
console.log(`Elementwise ops on ${ELEMENTS} float32 values (normal, σ = 2), median ms per call`);
console.log();
console.log(`| op | js | wasm ×1 | wasm ×${threads} | js / wasm ×1 | js / wasm ×${threads} |`);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const { kind, js, one, all } of unaryRows) {
  const [a, b, c] = [js, one, all].map((t) => t.medianMs) as [number, number, number];
  console.log(
    `| ${kind} | ${formatMs(a)} | ${formatMs(b)} | ${formatMs(c)} | ${formatRatio(a / b)} | ` +
      `${formatRatio(a / c)} |`,
  );
}
console.log();

console.log(
  `Recurrent layer training step: input ${INPUT}, hidden ${HIDDEN}, sequence ${SEQUENCE}, batch ` +
    `${BATCH}, batchFirst, float32; forward, mse, backward and the Adam update (lr 1e-3)`,
);
console.log();
console.log(
  "| layer | fused cell (ms) | composed cell (ms) | composed / fused | PyTorch (ms) | tapegrad / PyTorch |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const { name, fused, composed } of layers) {
  const f = fused.timing.medianMs;
  const c = composed.timing.medianMs;
  if (Math.abs(fused.firstLoss - composed.firstLoss) > 1e-5 * Math.abs(composed.firstLoss)) {
    throw new Error(`${name}: fused loss ${fused.firstLoss} but composed ${composed.firstLoss}`);
  }
  const peer =
    typeof torch === "string" ? undefined : { lstm: torch.lstmMs, gru: torch.gruMs }[name];
  const peerText = peer === undefined ? "skipped" : formatMs(peer);
  const ratio = peer === undefined ? "" : formatRatio(f / peer);
  console.log(
    `| ${name} | ${formatMs(f)} | ${formatMs(c)} | ${formatRatio(c / f)} | ${peerText} | ${ratio} |`,
  );
}
