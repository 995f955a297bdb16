// LeNet-5 on Fashion-MNIST trained with DP-SGD (Abadi et al., 2016), beside ordinary training:
//   1. per-example gradients by vmap(grad(loss)) over the examples of a batch (privateStep.ts);
//   2. each example's whole gradient clipped to L2 norm ≤ C, the clipped ones summed, Gaussian
//      noise N(0, σ²C²) added per coordinate, the sum divided by the batch size;
//   3. the same optimizer step as ordinary training, which runs in lock-step on the same batches
//      from the same initial params, so that both see the same data and the same machine load.
//
//   tsx dpSgd.ts [--steps N] [--batch-size B] [--lr X] [--clip C] [--sigma S] [--seed N] [--data DIR]
import { setFlagsFromString } from "node:v8";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  argumentError,
  getBackend,
  slice,
  valueAndGrad,
  wasmThreads,
  wasmVariant,
  type Tensor,
} from "@tapegrad/autodiff";
import { dataLoader, deriveRng, normalize, tensorDataset } from "@tapegrad/data";
import { fashionMnist } from "@tapegrad/data/node";
import { accuracy, crossEntropy, optim } from "@tapegrad/nn";
import { lenet } from "@tapegrad/train";
import { perExampleGradients, privateGradient } from "./privateStep.js";

/** Fashion-MNIST's training-set mean and standard deviation, as `pnpm train` normalises. */
const MEAN = 0.286;
const STD = 0.353;

// Independent random streams below the seed, deriveRng(seed, stream, …): the data loader draws
// its batch orders from stream 0 (and would draw transforms from 1), so the initial params and
// the noise take streams of their own; the noise must not be correlated with anything else.
const INIT_STREAM = 2;
const NOISE_STREAM = 3;

/** Images [N, 1, 28, 28] (normalised) and int32 labels [N]. */
export interface LabelledSet {
  readonly x: Tensor;
  readonly y: Tensor;
}

/** The first `limit` images of a Fashion-MNIST split, normalised; fails if the files are missing. */
export async function loadFashionMnist(
  split: "train" | "test",
  options: { readonly limit?: number; readonly dir?: string } = {},
): Promise<LabelledSet> {
  const { images, labels } = await fashionMnist({ split, dir: options.dir });
  const n = Math.min(options.limit ?? labels.size, labels.size);
  return { x: normalize([MEAN], [STD])(slice(images, [0], [n])), y: slice(labels, [0], [n]) };
}

/** The hyperparameters of both trainings; every field is optional (defaults in DEFAULTS). */
export interface TrainOptions {
  /** Optimizer steps of each training (default: one epoch of full batches). */
  readonly steps?: number;
  readonly batchSize?: number;
  /** SGD's peak learning rate (momentum 0.9, cosine decay to lr/100), the same for both. */
  readonly lr?: number;
  /** C, the per-example clipping norm. */
  readonly clipNorm?: number;
  /** σ, the noise multiplier: noise std σ·C per coordinate of the summed gradient. */
  readonly noiseMultiplier?: number;
  /** Seeds the initial params, the batch order and the noise. */
  readonly seed?: number;
  /** Called every `logEvery` steps with a progress line. */
  readonly log?: (line: string) => void;
  readonly logEvery?: number;
}

export const DEFAULTS = {
  batchSize: 128,
  lr: 0.05,
  clipNorm: 1,
  noiseMultiplier: 1,
  seed: 0,
  logEvery: 50,
} as const;

/** options with DEFAULTS in place of every field left out (or undefined). */
export function withDefaults(options: TrainOptions) {
  return {
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    lr: options.lr ?? DEFAULTS.lr,
    clipNorm: options.clipNorm ?? DEFAULTS.clipNorm,
    noiseMultiplier: options.noiseMultiplier ?? DEFAULTS.noiseMultiplier,
    seed: options.seed ?? DEFAULTS.seed,
    logEvery: options.logEvery ?? DEFAULTS.logEvery,
  };
}

/** What one of the two trainings ended with. */
export interface TrainingResult {
  /** Mean cross-entropy of `evaluate`'s set at the initial and at the final params. */
  readonly initialLoss: number;
  readonly finalLoss: number;
  readonly accuracy: number;
  /** Wall time of each step (gradient and optimizer update), in milliseconds. */
  readonly stepMillis: readonly number[];
}

/** Both trainings' results and the settings they ran with. */
export interface Comparison {
  readonly private: TrainingResult;
  readonly ordinary: TrainingResult;
  readonly steps: number;
  readonly batchSize: number;
  /** q = B/N, the fraction of the training set each step sees. */
  readonly samplingRate: number;
  /** Of the examples the private training saw, the fraction whose gradient norm exceeded C. */
  readonly clippedFraction: number;
}

/**
 * Trains LeNet-5 twice from the same initial params on the same batches (shuffled, full batches
 * only, so every step divides by the same B): with DP-SGD and with the ordinary mean gradient,
 * one step of each in turn. Both use SGD with momentum 0.9 and a cosine learning-rate decay.
 * Each is then evaluated on `evaluate`.
 */
export function compareTrainings(
  train: LabelledSet,
  evaluate: LabelledSet,
  options: TrainOptions = {},
): Comparison {
  const { batchSize, lr, clipNorm, noiseMultiplier, seed, logEvery } = withDefaults(options);
  const { log = () => {} } = options;
  const n = train.y.size;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) {
    throw argumentError(
      "compareTrainings",
      `batchSize must be an integer in [1, ${n}], got ${batchSize}`,
    );
  }
  const steps = options.steps ?? Math.floor(n / batchSize);
  if (!Number.isInteger(steps) || steps < 1) {
    throw argumentError("compareTrainings", `steps must be a positive integer, got ${steps}`);
  }

  const model = lenet();
  const { params: initial } = model.init(deriveRng(seed, INIT_STREAM));
  const loss = (params: unknown, x: Tensor, y: Tensor) => crossEntropy(model.apply(params, x), y);
  const perExample = perExampleGradients(loss);
  const meanGradient = valueAndGrad(loss);
  // Decaying the rate averages out more of the noise in the last steps (as `pnpm train` does).
  const schedule = optim.cosineDecay({ lr, totalSteps: steps, minLr: lr / 100 });
  const optimizer = optim.sgd({ lr: schedule, momentum: 0.9 });
  const loader = dataLoader(tensorDataset(train.x, train.y), {
    batchSize,
    shuffle: true,
    seed,
    dropLast: true,
  });

  let privateParams = initial;
  let privateState = optimizer.init(initial);
  let ordinaryParams = initial;
  let ordinaryState = optimizer.init(initial);
  const privateMillis: number[] = [];
  const ordinaryMillis: number[] = [];
  let clipped = 0;
  let step = 0;
  for (let epoch = 0; step < steps; epoch++) {
    for (const [x, y] of loader.epoch(epoch) as Iterable<[Tensor, Tensor]>) {
      if (step === steps) break;
      let start = performance.now();
      const { gradient, norms } = privateGradient(perExample(privateParams, x, y), {
        clipNorm,
        noiseMultiplier,
        rng: deriveRng(seed, NOISE_STREAM, step),
      });
      [privateParams, privateState] = optimizer.update(gradient, privateState, privateParams);
      privateMillis.push(performance.now() - start);
      clipped += Array.from(norms.data as ArrayLike<number>).filter((v) => v > clipNorm).length;

      start = performance.now();
      const [batchLoss, grads] = meanGradient(ordinaryParams, x, y);
      [ordinaryParams, ordinaryState] = optimizer.update(grads, ordinaryState, ordinaryParams);
      ordinaryMillis.push(performance.now() - start);

      step++;
      if (step % logEvery === 0 || step === steps) {
        log(
          `  step ${String(step).padStart(5)}/${steps}: ordinary batch loss ` +
            `${batchLoss.item().toFixed(3)}, private: ${pct(clipped / (step * batchSize))} ` +
            `of gradients clipped so far`,
        );
      }
    }
  }
  const initialEvaluation = evaluateOn(model.apply, initial, evaluate);
  const result = (params: unknown, stepMillis: number[]): TrainingResult => {
    const final = evaluateOn(model.apply, params, evaluate);
    return {
      initialLoss: initialEvaluation.loss,
      finalLoss: final.loss,
      accuracy: final.accuracy,
      stepMillis,
    };
  };
  return {
    private: result(privateParams, privateMillis),
    ordinary: result(ordinaryParams, ordinaryMillis),
    steps,
    batchSize,
    samplingRate: batchSize / n,
    clippedFraction: clipped / (steps * batchSize),
  };
}

/** Mean cross-entropy and accuracy of the model at `params`, in batches to bound memory. */
function evaluateOn(
  apply: (params: unknown, x: Tensor) => Tensor,
  params: unknown,
  set: LabelledSet,
): { loss: number; accuracy: number } {
  const n = set.y.size;
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < n; i += 1000) {
    const end = Math.min(n, i + 1000);
    const logits = apply(params, slice(set.x, [i], [end]));
    const labels = slice(set.y, [i], [end]);
    lossSum += crossEntropy(logits, labels, { reduction: "sum" }).item();
    correct += accuracy(logits, labels) * (end - i);
  }
  return { loss: lossSum / n, accuracy: correct / n };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "wasm (relaxed SIMD, 2 threads)", "js", …: what the kernels run on. */
function describeBackend(): string {
  const backend = getBackend();
  if (backend !== "wasm") return backend;
  const threads = wasmThreads();
  return `wasm (${wasmVariant()} SIMD, ${threads} thread${threads === 1 ? "" : "s"})`;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      clip: { type: "string" },
      sigma: { type: "string" },
      seed: { type: "string" },
      data: { type: "string" },
    },
  });
  const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const options: TrainOptions = {
    steps: number(values.steps),
    batchSize: number(values["batch-size"]),
    lr: number(values.lr),
    clipNorm: number(values.clip),
    noiseMultiplier: number(values.sigma),
    seed: number(values.seed),
    log: console.log,
  };
  // pnpm runs the script in this directory and passes the caller's as INIT_CWD: a relative
  // --data means the directory the command was typed in.
  const dir =
    values.data === undefined
      ? undefined
      : resolve(process.env.INIT_CWD ?? process.cwd(), values.data);
  const [train, test] = await Promise.all([
    loadFashionMnist("train", { dir }),
    loadFashionMnist("test", { dir }),
  ]);
  const { batchSize, lr, clipNorm, noiseMultiplier, seed } = withDefaults(options);
  console.log(
    `LeNet-5 on Fashion-MNIST (${train.y.size} train, ${test.y.size} test), backend ` +
      `${describeBackend()}\nDP-SGD: C = ${clipNorm}, σ = ${noiseMultiplier}, batch ${batchSize}, ` +
      `SGD momentum 0.9, lr ${lr} cosine to ${lr / 100}, seed ${seed}; ordinary training alongside ` +
      `on the same batches`,
  );
  const start = performance.now();
  const r = compareTrainings(train, test, options);
  const seconds = (performance.now() - start) / 1000;
  const privateMs = median(r.private.stepMillis);
  const ordinaryMs = median(r.ordinary.stepMillis);
  console.log(
    `\n${r.steps} steps of batch ${r.batchSize} (sampling rate q = ${r.samplingRate.toFixed(5)}, ` +
      `noise multiplier σ = ${noiseMultiplier}) in ${seconds.toFixed(0)} s\n` +
      `  ordinary: test accuracy ${pct(r.ordinary.accuracy)}, test loss ` +
      `${r.ordinary.finalLoss.toFixed(3)}, median step ${ordinaryMs.toFixed(1)} ms\n` +
      `  DP-SGD:   test accuracy ${pct(r.private.accuracy)}, test loss ` +
      `${r.private.finalLoss.toFixed(3)}, median step ${privateMs.toFixed(1)} ms ` +
      `(${pct(r.clippedFraction)} of per-example gradients clipped)\n` +
      `  DP-SGD step / ordinary step: ${(privateMs / ordinaryMs).toFixed(2)}×`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Node 20's V8 has relaxed SIMD, whose fused multiply-add the wasm GEMM uses, behind a flag (as
  // `pnpm train` sets it). The backend compiles its module on the first kernel call, after this.
  // Only when run as the command: V8's flags are the whole process's, and a test importing this
  // module would change the kernels every later test in its worker runs.
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  await main();
}
