// Times training steps of one model on random data: `node --import tsx scripts/stepProfile.ts resnet 64 30`.
// Wall time, and the process's CPU time per step (all threads: steadier on a shared machine).
import { setFlagsFromString } from "node:v8";
// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag.
setFlagsFromString("--experimental-wasm-relaxed-simd");
import { prng, valueAndGrad, type Tensor, type Rng } from "@tapegrad/autodiff";
import { crossEntropy, optim } from "@tapegrad/nn";
import { makeModel, type ModelName } from "../src/models.js";

const [name = "resnet", batchArg = "64", stepsArg = "30"] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg);
const model = makeModel(name as ModelName);
const rng = prng(0);
let { params, state } = model.init(rng);
const opt = optim.adam({ lr: 1e-3 });
let optState = opt.init(params);
const x = prng(1).normal([batch, 1, 28, 28]);
const y = prng(2).randint(0, 10, [batch]);
const lossGrad = valueAndGrad(
  (p: unknown, s: unknown, xb: Tensor, yb: Tensor, r: Rng) => {
    const [logits, ns] = model.applyWithState(p, s, xb, { training: true, rng: r });
    return [crossEntropy(logits, yb), ns] as [Tensor, unknown];
  },
  { hasAux: true },
);
const times: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const [[loss, ns], grads] = lossGrad(params, state, x, y, rng);
  [params, optState] = opt.update(grads, optState, params) as [typeof params, typeof optState];
  state = ns as typeof state;
  loss.item();
  times.push(performance.now() - t0);
  const used = process.cpuUsage(c0);
  cpu.push((used.user + used.system) / 1000);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
const median = times[steps >> 1]!;
console.log(
  `${name} batch ${batch}: median ${median.toFixed(1)} ms, best ${times[0]!.toFixed(1)} ms, ` +
    `${((batch / median) * 1000).toFixed(0)} img/s; CPU median ${cpu[steps >> 1]!.toFixed(1)} ms`,
);
