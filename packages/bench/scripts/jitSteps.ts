// Runs one of the training job's models for many training steps (loss, gradients and the Adam
// update), jitted or eager, on random data, with no Node flags, and reports the step's median
// time and what the heap did after warm-up: heapUsed and RSS growth and the garbage collections
// by kind. `npx -y pnpm@10 --filter @tapegrad/bench run jit-steps lenet 5000`
// (`--eager` as a third argument for the eager step, `--unfused` for jit without fusion).
//
// The collections are counted from V8's own log: the script runs itself as a child with
// --trace-gc (a tracing flag, not one that changes the collector) and counts the main isolate's
// lines after the child's warm-up mark. A PerformanceObserver of "gc" entries saw only a few of
// them in a loop that never yields to the event loop.
import { spawnSync } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { jitTuning, prng } from "@tapegrad/autodiff";
import { optim } from "@tapegrad/nn";
import type { ModelName } from "@tapegrad/train";
import { trainingStep } from "../src/trainingStep.js";

const CHILD = "TAPEGRAD_JIT_STEPS_CHILD";
const WARMED_UP = "-- warmed up --";

if (process.env[CHILD] === undefined) {
  const args = [...process.execArgv, "--trace-gc", process.argv[1]!, ...process.argv.slice(2)];
  const child = spawnSync(process.execPath, args, {
    env: { ...process.env, [CHILD]: "1" },
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (child.status !== 0) {
    process.stderr.write(child.stderr);
    process.exit(child.status ?? 1);
  }
  const lines = child.stdout.split("\n");
  // The main isolate logs first; pool workers, with isolates of their own, start later.
  const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(lines.find((l) => l.startsWith("[")) ?? "")?.[1];
  const counted = lines.slice(lines.indexOf(WARMED_UP) + 1);
  const mine = counted.filter((l) => isolate !== undefined && l.includes(`:${isolate}]`));
  const count = (kind: string) => mine.filter((l) => l.includes(`: ${kind} `)).length;
  const report = counted.find((l) => !l.startsWith("[") && l.trim() !== "");
  console.log(
    `${report}, garbage collections: ${count("Scavenge")} scavenges, ` +
      `${count("Mark-Compact")} full (mark-compact)`,
  );
  process.exit(0);
}

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag.
setFlagsFromString("--experimental-wasm-relaxed-simd");

const [name = "lenet", stepsArg = "5000", mode] = process.argv.slice(2);
const steps = Number(stepsArg);
const WARM_UP = Math.min(200, Math.floor(steps / 10));
const BATCH = 64;
const x = prng(1).normal([BATCH, 1, 28, 28]);
const y = prng(2).randint(0, 10, [BATCH]);
jitTuning.fuse = mode !== "--unfused";
const step = trainingStep(name as ModelName, {
  lr: optim.cosineDecay({ lr: 1e-3, totalSteps: steps }),
  jitted: mode !== "--eager",
});

const times: number[] = [];
let start = process.memoryUsage();
for (let i = 0; i < steps; i++) {
  if (i === WARM_UP) {
    console.log(WARMED_UP);
    start = process.memoryUsage();
  }
  const t0 = performance.now();
  step(x, y).item();
  times.push(performance.now() - t0);
}
const end = process.memoryUsage();
const sorted = times.slice(WARM_UP).sort((a, b) => a - b);
const growth = (key: "heapUsed" | "rss") =>
  `${((end[key] / start[key] - 1) * 100).toFixed(1)}% (${(start[key] / 2 ** 20).toFixed(1)} → ${(end[key] / 2 ** 20).toFixed(1)} MiB)`;
console.log(
  `${name} ${mode === "--eager" ? "eager" : mode === "--unfused" ? "jit, unfused" : "jit"}: ` +
    `${steps} steps, batch ${BATCH}; after ${WARM_UP} warm-up steps: median ` +
    `${sorted[sorted.length >> 1]!.toFixed(2)} ms/step, heapUsed ${growth("heapUsed")}, ` +
    `RSS ${growth("rss")}`,
);
