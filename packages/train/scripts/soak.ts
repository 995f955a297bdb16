// `pnpm soak`: a long LeNet run (≥ 5,000 steps by default) that samples process.memoryUsage()
// every 500 steps and fails when the heap or the RSS grows by more than 10% after warm-up.
// Run it with --expose-gc (the package script does) so each sample follows a full collection.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getBackend, setBackend, wasmThreads } from "@tapegrad/autodiff";
import { fashionMnist, FASHION_MNIST_SYSTEM_DIR } from "@tapegrad/data/node";
import { formatEpoch, type Progress } from "../src/progress.js";
import { train } from "../src/train.js";
import { writeFixtureDataset } from "../test/fixture.js";

const HELP = `Usage: pnpm soak [options]   (node --expose-gc --initial-old-space-size=256 --import tsx scripts/soak.ts)

Trains LeNet in whole epochs until at least --steps steps are done, sampling memory every
--every steps, and exits with code 1 if heapUsed or rss grew by more than --max-growth percent
from step --warmup to the end (each end the median of three samples).

Options:
  --steps N          steps at least (default 5000)
  --batch-size N     batch size (default 64)
  --every N          steps between memory samples (default 500)
  --warmup N         the step growth is measured from (default 1000)
  --max-growth P     allowed growth of heapUsed and rss, in percent (default 10)
  --backend NAME     js or wasm (default $TAPEGRAD_BACKEND, else the fastest available)
  --data DIR         Fashion-MNIST IDX files (default $TAPEGRAD_DATA, else
                     ${FASHION_MNIST_SYSTEM_DIR}, else a generated fixture)
  --keep             keep the run's output directory (checkpoints, metrics)
  --help             show this text`;

interface Sample {
  readonly step: number;
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** Mean milliseconds per step since the previous sample (evaluation and checkpoints included). */
  readonly msPerStep: number;
}

const MB = 1024 * 1024;

function positive(name: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new Error(`--${name} must be a positive number, got "${text}"`);
  }
  return value;
}

function hasFashionMnist(dir: string): boolean {
  const file = join(dir, "train-images-idx3-ubyte");
  return existsSync(file) || existsSync(`${file}.gz`);
}

/** The data directory, and whether it is the real dataset or the generated stand-in. */
function dataSource(dir: string | undefined): { dir: string; label: string } {
  const chosen = dir ?? process.env.TAPEGRAD_DATA;
  if (chosen !== undefined && chosen !== "") return { dir: chosen, label: chosen };
  if (hasFashionMnist(FASHION_MNIST_SYSTEM_DIR)) {
    return { dir: FASHION_MNIST_SYSTEM_DIR, label: `Fashion-MNIST (${FASHION_MNIST_SYSTEM_DIR})` };
  }
  // 6,400 images: 100 steps per epoch at batch 64, so a 5,000-step soak spans 50 epochs.
  return { dir: writeFixtureDataset(6400, 1000), label: "generated fixture (6,400 images)" };
}

function formatTable(samples: readonly Sample[]): string {
  const header = "| step | heapUsed MB | rss MB | external MB | arrayBuffers MB | ms/step |";
  const rule = "| ---: | ---: | ---: | ---: | ---: | ---: |";
  const rows = samples.map(
    (s) =>
      `| ${s.step} | ${(s.heapUsed / MB).toFixed(1)} | ${(s.rss / MB).toFixed(1)} | ` +
      `${(s.external / MB).toFixed(1)} | ${(s.arrayBuffers / MB).toFixed(1)} | ` +
      `${s.msPerStep.toFixed(1)} |`,
  );
  return [header, rule, ...rows].join("\n");
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percent(from: number, to: number): number {
  return (100 * (to - from)) / from;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      steps: { type: "string" },
      "batch-size": { type: "string" },
      every: { type: "string" },
      warmup: { type: "string" },
      "max-growth": { type: "string" },
      backend: { type: "string" },
      data: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const steps = positive("steps", values.steps, 5000);
  const batchSize = positive("batch-size", values["batch-size"], 64);
  const every = positive("every", values.every, 500);
  const warmup = positive("warmup", values.warmup, 1000);
  const maxGrowth = positive("max-growth", values["max-growth"], 10);
  if (values.backend !== undefined) setBackend(values.backend);

  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) {
    console.warn("soak: no global.gc (run with node --expose-gc); heapUsed will be noisy");
  }
  const data = dataSource(values.data);
  const out = mkdtempSync(join(tmpdir(), "tapegrad-soak-"));
  const backend = getBackend();
  const threads = backend === "wasm" ? `, ${wasmThreads()} threads` : "";
  console.log(`soak: LeNet, batch ${batchSize}, backend ${backend}${threads}, data ${data.label}`);

  // Whole epochs, as a real run trains (evaluation and a checkpoint after each): enough of them
  // to make `steps`.
  const { labels } = await fashionMnist({ split: "train", dir: data.dir });
  const stepsPerEpoch = Math.ceil(labels.size / batchSize);
  const epochs = Math.ceil(steps / stepsPerEpoch);
  const totalSteps = epochs * stepsPerEpoch;
  console.log(`soak: ${epochs} epochs of ${stepsPerEpoch} steps → ${totalSteps} steps`);

  const samples: Sample[] = [];
  let step = 0;
  let lastTime = performance.now();
  const sample = () => {
    collect?.();
    const now = performance.now();
    const usage = process.memoryUsage();
    const previous = samples.at(-1)?.step ?? 0;
    samples.push({
      step,
      heapUsed: usage.heapUsed,
      rss: usage.rss,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      msPerStep: (now - lastTime) / (step - previous),
    });
    lastTime = performance.now();
    const s = samples.at(-1)!;
    console.log(
      `step ${step}: heapUsed ${(s.heapUsed / MB).toFixed(1)} MB, rss ${(s.rss / MB).toFixed(1)} MB`,
    );
  };
  const progress: Progress = {
    startEpoch() {
      // The first interval starts at the first step, not before the data loaded.
      if (step === 0) lastTime = performance.now();
    },
    batch() {
      step++;
      // The last sample too is taken mid-run, while the datasets and the model are still live.
      if (step % every === 0 || step === totalSteps) sample();
    },
    endEpoch(metrics) {
      console.log(formatEpoch(metrics, epochs));
    },
    stop() {},
  };

  const began = performance.now();
  await train({
    model: "lenet",
    epochs,
    batchSize,
    lr: 1e-3,
    optimizer: "adam",
    seed: 0,
    data: data.dir,
    out,
    progress,
    log: (line) => console.log(line),
  });
  const minutes = (performance.now() - began) / 60_000;

  console.log(`\n${step} steps in ${minutes.toFixed(1)} min on ${backend}${threads}\n`);
  console.log(formatTable(samples));
  if (values.keep) console.log(`\noutputs kept in ${out}`);
  else rmSync(out, { recursive: true, force: true });

  // Each end is the median of three samples (the first three from the warm-up step on, and the
  // last three): the allocator returns memory to the system in bursts, so a single RSS sample
  // can sit ±10% off its neighbours without any trend.
  const measured = samples.filter((s) => s.step >= warmup);
  if (measured.length < 4) {
    console.log(`\nsoak: too few samples after step ${warmup} to measure growth`);
    return 1;
  }
  const start = measured.slice(0, 3);
  const end = measured.slice(-3);
  const growth = Object.fromEntries(
    (["heapUsed", "rss", "external", "arrayBuffers"] as const).map((key) => {
      const from = median(start.map((s) => s[key]));
      return [key, percent(from, median(end.map((s) => s[key])))];
    }),
  ) as Record<"heapUsed" | "rss" | "external" | "arrayBuffers", number>;
  console.log(
    `\ngrowth from steps ${start.map((s) => s.step).join("/")} to ` +
      `${end.map((s) => s.step).join("/")} (median of each three):`,
  );
  for (const [name, value] of Object.entries(growth)) {
    console.log(`  ${name.padEnd(12)} ${value >= 0 ? "+" : ""}${value.toFixed(1)}%`);
  }
  const failed = growth.heapUsed > maxGrowth || growth.rss > maxGrowth;
  console.log(
    failed
      ? `soak: FAIL, heapUsed or rss grew by more than ${maxGrowth}%`
      : `soak: ok, heapUsed and rss within ${maxGrowth}%`,
  );
  return failed ? 1 : 0;
}

// No process.exit on success: the process must end by itself (wasm workers unref'ed, no timers).
main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
