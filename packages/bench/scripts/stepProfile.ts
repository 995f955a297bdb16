// Times training steps of one of the training job's models on random data:
// `npx -y pnpm@10 --filter @tapegrad/bench run step-profile resnet 64 30`. Prints wall time,
// and the process's CPU time per step (all threads: steadier on a shared machine). Flags after
// the step count: `--kernels` also prints the time spent in each kernel of the backend table per
// step (after 10 warm-up steps), wrapping every entry; `--jit` times the step jitted as
// `pnpm train` runs it, with its parameters and state donated.
import { setFlagsFromString } from "node:v8";
import { kernels, prng } from "@tapegrad/autodiff";
import type { ModelName } from "@tapegrad/train";
import { trainingStep } from "../src/trainingStep.js";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag.
setFlagsFromString("--experimental-wasm-relaxed-simd");

const [name = "resnet", batchArg = "64", stepsArg = "30", ...flags] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg);
const WARM_UP = 10;
const x = prng(1).normal([batch, 1, 28, 28]);
const y = prng(2).randint(0, 10, [batch]);
const jitted = flags.includes("--jit");
const step = trainingStep(name as ModelName, { lr: 1e-3, jitted });

/** Milliseconds per kernel (elementwise ones by kind) while `counting`. */
const kernelMs = new Map<string, number>();
let counting = false;
if (flags.includes("--kernels")) {
  const table = kernels() as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [key, kernel] of Object.entries(table)) {
    table[key] = (...args: unknown[]) => {
      const t0 = performance.now();
      const result = kernel(...args);
      if (counting) {
        const label = key === "unary" || key === "binary" ? `${key} ${String(args[0])}` : key;
        kernelMs.set(label, (kernelMs.get(label) ?? 0) + performance.now() - t0);
      }
      return result;
    };
  }
}

const times: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < steps; i++) {
  counting = i >= WARM_UP;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  step(x, y).item();
  times.push(performance.now() - t0);
  const used = process.cpuUsage(c0);
  cpu.push((used.user + used.system) / 1000);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
const median = times[steps >> 1]!;
console.log(
  `${name} batch ${batch}${jitted ? ", jit" : ""}: median ${median.toFixed(1)} ms, best ${times[0]!.toFixed(1)} ms, ` +
    `${((batch / median) * 1000).toFixed(0)} img/s; CPU median ${cpu[steps >> 1]!.toFixed(1)} ms`,
);
if (kernelMs.size > 0) {
  const counted = steps - WARM_UP;
  let total = 0;
  for (const [label, ms] of [...kernelMs].sort((a, b) => b[1] - a[1])) {
    total += ms;
    console.log(`${(ms / counted).toFixed(3).padStart(8)} ms  ${label}`);
  }
  console.log(`${(total / counted).toFixed(2)} ms per step in kernels`);
}
