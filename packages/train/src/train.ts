import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  add,
  jit,
  prng,
  slice,
  tensor,
  valueAndGrad,
  type Rng,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  compose,
  dataLoader,
  deriveRng,
  normalize,
  onInputs,
  randomCrop,
  randomHorizontalFlip,
  tensorDataset,
  FASHION_MNIST_CLASSES,
} from "@tapegrad/data";
import { fashionMnist } from "@tapegrad/data/node";
import {
  accuracy,
  confusionMatrix,
  crossEntropy,
  formatConfusionMatrix,
  loadInto,
  optim,
  type Layer,
} from "@tapegrad/nn";
import { loadCheckpoint, saveCheckpoint, writeFileAtomic } from "@tapegrad/nn/node";
import { exportOnnx } from "@tapegrad/nn/onnx";
import { curvesSvg, type EpochMetrics } from "./curves.js";
import { makeModel, type ModelName } from "./models.js";
import type { Progress } from "./progress.js";
import { RECIPES, type OptimizerName } from "./recipes.js";

export interface TrainOptions {
  readonly model: ModelName;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: OptimizerName;
  /** AdamW's weight decay (default: the model's recipe, src/recipes.ts). */
  readonly weightDecay?: number;
  /** Label smoothing of the training loss (default: the model's recipe). */
  readonly labelSmoothing?: number;
  /** Shift and flip the training images at random (default: the model's recipe). */
  readonly augment?: boolean;
  readonly seed: number;
  /** Directory of the Fashion-MNIST IDX files (else $TAPEGRAD_DATA, else Debian's path). */
  readonly data?: string;
  readonly out: string;
  /** A checkpoint to continue from. */
  readonly resume?: string;
  /** Use only the first N training images. */
  readonly limit?: number;
  /** After each epoch's checkpoint, write the model in eval form as ONNX to `<out>/model.onnx`. */
  readonly exportOnnx?: boolean;
  /** Use only the first N test images (for quick tries and tests). */
  readonly testLimit?: number;
  readonly progress?: Progress;
  readonly log?: (line: string) => void;
  /** Stops the run after the epoch (and its checkpoint) during which it is aborted. */
  readonly signal?: AbortSignal;
  /** Called after each epoch's checkpoint is written. */
  readonly onEpochEnd?: (metrics: EpochMetrics) => void;
  /**
   * Trace the training step's forward and backward passes and the evaluation's forward pass once
   * with `jit` and replay them (default true); the results are the same bits either way.
   */
  readonly jit?: boolean;
}

export interface TrainResult {
  readonly history: readonly EpochMetrics[];
  readonly params: unknown;
  readonly state: unknown;
  readonly testAccuracy: number;
  readonly seconds: number;
}

/** Fashion-MNIST's training-set mean and standard deviation, for normalisation. */
const MEAN = 0.286;
const STD = 0.353;

/** Everything a checkpoint holds; restoring it continues the run exactly. */
interface TrainingState {
  readonly params: unknown;
  readonly state: unknown;
  readonly optState: unknown;
}

/** The learning rate follows a cosine from `lr` down to lr/100 over the whole run. */
function makeOptimizer(
  name: OptimizerName,
  peak: number,
  totalSteps: number,
  weightDecay: number,
): optim.Optimizer {
  const lr = optim.cosineDecay({
    lr: peak,
    totalSteps: Math.max(1, totalSteps),
    minLr: peak / 100,
  });
  switch (name) {
    case "sgd":
      return optim.sgd({ lr, momentum: 0.9, nesterov: true });
    case "adam":
      return optim.adam({ lr });
    case "adamw":
      return optim.adamW({ lr, weightDecay });
  }
}

/**
 * Shifts by up to 2 pixels (the uncovered border takes the background's normalised value) and
 * left–right flips, each drawn per image.
 */
const augmentation = compose(
  randomCrop(28, { padding: 2, fill: -MEAN / STD }),
  randomHorizontalFlip(),
);

/** One split of Fashion-MNIST as normalised [N, 1, 28, 28] images and labels, the first `limit`. */
export async function loadSplit(split: "train" | "test", dir: string | undefined, limit?: number) {
  const { images, labels } = await fashionMnist({ split, dir });
  const n = limit === undefined ? labels.size : Math.min(limit, labels.size);
  const x = normalize([MEAN], [STD])(slice(images, [0], [n]));
  return { x, y: slice(labels, [0], [n]) };
}

/**
 * Trains `options.model` on Fashion-MNIST, evaluating and checkpointing after every epoch. Data
 * order and dropout randomness derive from (seed, epoch, step), so a resumed run continues
 * exactly as an uninterrupted one would.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const start = performance.now();
  const [train, test] = await Promise.all([
    loadSplit("train", options.data, options.limit),
    loadSplit("test", options.data, options.testLimit),
  ]);
  const model = makeModel(options.model);
  const recipe = RECIPES[options.model];
  const stepsPerEpoch = Math.ceil(train.y.size / options.batchSize);
  const optimizer = makeOptimizer(
    options.optimizer,
    options.lr,
    stepsPerEpoch * options.epochs,
    options.weightDecay ?? recipe.weightDecay,
  );
  const initial = model.init(prng(options.seed));
  let current: TrainingState = {
    params: initial.params,
    state: initial.state,
    // The step count as a tensor, like the rest of the state: a traced step takes each
    // step's count as an input instead of tracing again for every new number.
    optState: {
      ...(optimizer.init(initial.params) as object),
      step: tensor(0, { dtype: "int32" }),
    },
  };
  let firstEpoch = 1;
  let history: EpochMetrics[] = [];
  mkdirSync(options.out, { recursive: true });
  const metricsPath = join(options.out, "metrics.jsonl");

  if (options.resume !== undefined) {
    const checkpoint = await loadCheckpoint(options.resume);
    const saved = checkpoint.tree as { training: unknown; epoch: number };
    current = loadInto(current, saved.training) as TrainingState;
    firstEpoch = saved.epoch + 1;
    history = readHistory(join(dirname(options.resume), "metrics.jsonl")).filter(
      (m) => m.epoch <= saved.epoch,
    );
    log(`resumed from ${options.resume} after epoch ${saved.epoch}`);
  }
  removeOrphanedTemporaries(options.out);
  // Rewritten through a temporary file, so a kill here never leaves an empty history.
  writeFileSync(`${metricsPath}.tmp`, history.map((m) => `${JSON.stringify(m)}\n`).join(""));
  renameSync(`${metricsPath}.tmp`, metricsPath);

  const loader = dataLoader(tensorDataset(train.x, train.y), {
    batchSize: options.batchSize,
    shuffle: true,
    seed: options.seed,
    transform: (options.augment ?? recipe.augment) ? onInputs(augmentation) : undefined,
  });
  const compile = options.jit ?? true;
  const step = makeStep(model, optimizer, options.labelSmoothing ?? recipe.labelSmoothing, compile);
  const logitsOf = makeLogits(model, compile);
  // The last epoch's evaluation is of the final parameters: the summary reuses it.
  let lastEvaluation: Evaluation | undefined;

  for (let epoch = firstEpoch; epoch <= options.epochs; epoch++) {
    const epochStart = performance.now();
    const batches = loader.epoch(epoch);
    options.progress?.startEpoch(epoch, batches.length);
    let lossSum = 0;
    let seen = 0;
    let b = 0;
    for (const [x, y] of batches as Iterable<[Tensor, Tensor]>) {
      const rng = deriveRng(options.seed, epoch, b);
      const loss = step(current, x, y, rng);
      current = loss.next;
      lossSum += loss.value * y.size;
      seen += y.size;
      b++;
      const elapsed = (performance.now() - epochStart) / 1000;
      options.progress?.batch(b, lossSum / seen, seen / elapsed);
    }
    const trainSeconds = (performance.now() - epochStart) / 1000;
    const evaluation = evaluate(logitsOf, current, test.x, test.y);
    lastEvaluation = evaluation;
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: lossSum / seen,
      testLoss: evaluation.loss,
      testAccuracy: evaluation.accuracy,
      imagesPerSecond: seen / trainSeconds,
      seconds: (performance.now() - epochStart) / 1000,
    };
    history.push(metrics);
    options.progress?.endEpoch(metrics);
    appendFileSync(metricsPath, `${JSON.stringify(metrics)}\n`);
    writeFileSync(join(options.out, "curves.svg"), curvesSvg(history));
    writeFileSync(
      join(options.out, "confusion.txt"),
      `${formatConfusionMatrix(evaluation.confusion, [...FASHION_MNIST_CLASSES])}\n`,
    );
    await saveCheckpoint(
      join(options.out, `checkpoint-epoch-${epoch}.safetensors`),
      { training: current, epoch, seed: options.seed },
      { model: options.model, optimizer: options.optimizer, lr: String(options.lr) },
    );
    if (options.exportOnnx) {
      const onnx = exportOnnx(model, current.params, current.state, { inputShape: [1, 1, 28, 28] });
      await writeFileAtomic(join(options.out, "model.onnx"), onnx);
    }
    options.onEpochEnd?.(metrics);
    if (options.signal?.aborted) break;
  }
  options.progress?.stop();
  const final = lastEvaluation ?? evaluate(logitsOf, current, test.x, test.y);
  return {
    history,
    params: current.params,
    state: current.state,
    testAccuracy: final.accuracy,
    seconds: (performance.now() - start) / 1000,
  };
}

interface StepResult {
  readonly value: number;
  readonly next: TrainingState;
}

/**
 * One optimisation step: loss and gradients by valueAndGrad, then the optimizer's update, traced
 * once by jit when `compile`.
 */
function makeStep(
  model: Layer,
  optimizer: optim.Optimizer,
  labelSmoothing: number,
  compile: boolean,
) {
  // The step's generator, for layers that draw (dropout). It is not an argument of the traced
  // function, whose signature would change every step: the built-in models draw nothing, and a
  // model that does raises jit's error naming the remedy (keys, or --no-jit).
  let rng: Rng | undefined;
  const lossAndState = (params: unknown, state: unknown, x: Tensor, y: Tensor) => {
    const [logits, newState] = model.applyWithState(params, state, x, { training: true, rng });
    return [crossEntropy(logits, y, { labelSmoothing }), newState] as [Tensor, unknown];
  };
  const lossGrad = valueAndGrad(lossAndState, { hasAux: true });
  const update = (current: TrainingState, x: Tensor, y: Tensor) => {
    const [[loss, state], grads] = lossGrad(current.params, current.state, x, y);
    const [params, optState] = optimizer.update(grads, current.optState, current.params);
    return { loss, next: { params, state, optState } };
  };
  // The old params and state are never used again: results may be written over them.
  const run = compile ? jit(update, { donateArgnums: [0] }) : update;
  return (current: TrainingState, x: Tensor, y: Tensor, stepRng: Rng): StepResult => {
    rng = stepRng;
    const { loss, next } = run(current, x, y);
    return { value: loss.item(), next };
  };
}

/** The model's logits in eval mode (traced once by jit when `compile`). */
function makeLogits(model: Layer, compile: boolean) {
  const logits = (params: unknown, state: unknown, x: Tensor) =>
    model.apply(params, x, { training: false, state });
  return compile ? jit(logits) : logits;
}

type LogitsOf = ReturnType<typeof makeLogits>;

interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  readonly confusion: Tensor;
}

/** Test loss, accuracy and confusion matrix in eval mode, in batches to bound memory. */
function evaluate(logitsOf: LogitsOf, current: TrainingState, x: Tensor, y: Tensor): Evaluation {
  const n = y.size;
  const batch = 1000;
  let lossSum = 0;
  let correct = 0;
  let confusion: Tensor | undefined;
  for (let i = 0; i < n; i += batch) {
    const end = Math.min(n, i + batch);
    const xb = slice(x, [i], [end]);
    const yb = slice(y, [i], [end]);
    const logits = logitsOf(current.params, current.state, xb);
    lossSum += crossEntropy(logits, yb, { reduction: "sum" }).item();
    correct += accuracy(logits, yb) * (end - i);
    const c = confusionMatrix(logits, yb, 10);
    confusion = confusion === undefined ? c : add(confusion, c);
  }
  return { loss: lossSum / n, accuracy: correct / n, confusion: confusion! };
}

/** Temporary files of checkpoint writes cut short by a kill; the checkpoints themselves are whole. */
function removeOrphanedTemporaries(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (/^\.checkpoint-epoch-\d+\.safetensors\..*\.tmp$/.test(name)) rmSync(join(dir, name));
  }
}

function readHistory(path: string): EpochMetrics[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as EpochMetrics);
}
