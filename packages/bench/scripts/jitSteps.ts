// Runs one of the training job's models for many training steps (loss, gradients and the Adam
// update), jitted or eager, on random data, with no Node flags, and reports the step's median
// time and what the heap did after warm-up: heapUsed and RSS growth and the garbage
// collections by kind. `npx -y pnpm@10 --filter @tapegrad/bench run jit-steps lenet 5000`
// (`--eager` as a third argument for the eager step, `--unfused` for jit without fusion).
import { setFlagsFromString } from "node:v8";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { jit, jitTuning, prng, tensor, valueAndGrad, type Tensor } from "@tapegrad/autodiff";
import { crossEntropy, optim } from "@tapegrad/nn";
import { makeModel, type ModelName } from "@tapegrad/train";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag.
setFlagsFromString("--experimental-wasm-relaxed-simd");

const [name = "lenet", stepsArg = "5000", mode] = process.argv.slice(2);
const steps = Number(stepsArg);
const WARM_UP = Math.min(200, Math.floor(steps / 10));
const BATCH = 64;
const model = makeModel(name as ModelName);
const x = prng(1).normal([BATCH, 1, 28, 28]);
const y = prng(2).randint(0, 10, [BATCH]);
const optimizer = optim.adam({ lr: optim.cosineDecay({ lr: 1e-3, totalSteps: steps }) });

interface Training {
  readonly params: unknown;
  readonly state: unknown;
  readonly optState: optim.AdamState;
}
const lossGrad = valueAndGrad(
  (params: unknown, state: unknown, xb: Tensor, yb: Tensor) => {
    const [logits, next] = model.applyWithState(params, state, xb, { training: true });
    return [crossEntropy(logits, yb), next] as [Tensor, unknown];
  },
  { hasAux: true },
);
const step = (current: Training, xb: Tensor, yb: Tensor) => {
  const [[loss, state], grads] = lossGrad(current.params, current.state, xb, yb);
  const [params, optState] = optimizer.update(grads, current.optState, current.params);
  return { loss, next: { params, state, optState } };
};
jitTuning.fuse = mode !== "--unfused";
const run = mode === "--eager" ? step : jit(step, { donateArgnums: [0] });

const gcs = { minor: 0, major: 0, incremental: 0, weak: 0 };
let counting = false;
const observer = new PerformanceObserver((list) => {
  if (!counting) return;
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
    else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gcs.incremental++;
    else gcs.weak++;
  }
});
observer.observe({ entryTypes: ["gc"] });

const init = model.init(prng(0));
let current: Training = {
  params: init.params,
  state: init.state,
  optState: { ...optimizer.init(init.params), step: tensor(0, { dtype: "int32" }) },
};
const times: number[] = [];
let start = process.memoryUsage();
for (let i = 0; i < steps; i++) {
  if (i === WARM_UP) {
    // Let the observer's pending entries from warm-up through before counting.
    await new Promise((resolve) => setImmediate(resolve));
    counting = true;
    start = process.memoryUsage();
  }
  const t0 = performance.now();
  const out = run(current, x, y);
  current = out.next;
  out.loss.item();
  times.push(performance.now() - t0);
}
await new Promise((resolve) => setImmediate(resolve));
const end = process.memoryUsage();
observer.disconnect();
const sorted = times.slice(WARM_UP).sort((a, b) => a - b);
const growth = (key: "heapUsed" | "rss") =>
  `${((end[key] / start[key] - 1) * 100).toFixed(1)}% (${(start[key] / 2 ** 20).toFixed(1)} → ${(end[key] / 2 ** 20).toFixed(1)} MiB)`;
console.log(
  `${name} ${mode === "--eager" ? "eager" : mode === "--unfused" ? "jit, unfused" : "jit"}: ${steps} steps, batch ${BATCH}; after ` +
    `${WARM_UP} warm-up steps: median ${sorted[sorted.length >> 1]!.toFixed(2)} ms/step, ` +
    `heapUsed ${growth("heapUsed")}, RSS ${growth("rss")}, garbage collections: ` +
    `${gcs.minor} minor, ${gcs.major} major (full), ${gcs.incremental} incremental marking`,
);
