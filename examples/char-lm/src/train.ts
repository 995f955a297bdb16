// Training and evaluation on padded batches of whole words: row b of a batch is one word's
// input ("\n" + word) and target (word + "\n"), padded on the right, the padded targets
// ignored by the loss. Causal attention and the LSTM read left to right, so the padding after a
// word cannot change its logits.
import { argumentError, show, valueAndGrad, type Tensor } from "@tapegrad/autodiff";
import { deriveRng, padCollate } from "@tapegrad/data";
import { crossEntropy, optim } from "@tapegrad/nn";
import type { WordExample } from "./corpus.js";
import type { CharModel } from "./models.js";

/** The target written at padding, which crossEntropy skips (it is no token id). */
export const IGNORE = -1;

// Independent streams below the seed: the initial params, and the order the words are drawn in.
const INIT_STREAM = 0;
const ORDER_STREAM = 1;

/** A padded batch: input and target int32 [B, T], T the longest word's length + 1. */
export interface WordBatch {
  readonly input: Tensor;
  readonly target: Tensor;
}

/** The examples padded to one [B, T] batch: input padded with "\n" (id 0), target with IGNORE. */
export function wordBatch(examples: readonly WordExample[]): WordBatch {
  if (examples.length === 0) throw argumentError("wordBatch", "examples must not be empty");
  const input = padCollate(
    examples.map((e) => e.input),
    { padValue: 0 },
  ).ids;
  const target = padCollate(
    examples.map((e) => e.target),
    { padValue: IGNORE },
  ).ids;
  return { input, target };
}

/** Mean cross-entropy in nats over the batch's real (not padded) targets. */
export function batchLoss(model: CharModel, params: unknown, batch: WordBatch): Tensor {
  const logits = model.layer.apply(params, batch.input);
  return crossEntropy(logits, batch.target, { ignoreIndex: IGNORE });
}

/** Options of trainModel; every field but steps has a default. */
export interface TrainOptions {
  /** Optimizer steps. */
  readonly steps: number;
  /** Words per batch (default 64). */
  readonly batchSize?: number;
  /** Peak learning rate, reached after warmup, then cosine decay to lr/10 (default 3e-3). */
  readonly lr?: number;
  /** Steps of linear warmup (default: 5% of the steps). */
  readonly warmupSteps?: number;
  /** AdamW's decoupled weight decay (default 0.01). */
  readonly weightDecay?: number;
  /** Gradients are clipped to this global L2 norm (default 1). */
  readonly clipNorm?: number;
  /** Seeds the initial params and the order of the words (default 0). */
  readonly seed?: number;
  /** Called every `logEvery` steps (default 100) with a progress line. */
  readonly log?: (line: string) => void;
  readonly logEvery?: number;
}

/** What a training ended with. */
export interface Trained {
  readonly params: unknown;
  /** The batch loss (nats per character) at every step, before that step's update. */
  readonly losses: readonly number[];
}

/**
 * Trains `model` on the words with AdamW (linear warmup, cosine decay, global-norm clipping),
 * drawing batches of `batchSize` words from a fresh shuffle each epoch. Reproducible for a seed.
 */
export function trainModel(
  model: CharModel,
  examples: readonly WordExample[],
  options: TrainOptions,
): Trained {
  const fn = "trainModel";
  const { steps, batchSize = 64, lr = 3e-3, weightDecay = 0.01, clipNorm = 1, seed = 0 } = options;
  const { warmupSteps = Math.ceil(steps / 20), log = () => {}, logEvery = 100 } = options;
  if (!Number.isInteger(steps) || steps < 1) {
    throw argumentError(fn, `steps must be a positive integer, got ${show(steps)}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > examples.length) {
    throw argumentError(
      fn,
      `batchSize must be an integer in [1, ${examples.length}] (the number of words), got ` +
        `${show(batchSize)}`,
    );
  }
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps >= steps) {
    throw argumentError(
      fn,
      `warmupSteps must be an integer in [0, ${steps}) (steps ${steps}), got ${show(warmupSteps)}`,
    );
  }
  const decay = optim.cosineDecay({ lr, totalSteps: steps - warmupSteps, minLr: lr / 10 });
  const schedule = warmupSteps === 0 ? decay : optim.linearWarmup({ warmupSteps, schedule: decay });
  const optimizer = optim.chain(
    optim.clipGradients(clipNorm),
    optim.adamW({ lr: schedule, weightDecay }),
  );
  const lossAndGrad = valueAndGrad((params: unknown, batch: WordBatch) =>
    batchLoss(model, params, batch),
  );

  let { params } = model.layer.init(deriveRng(seed, INIT_STREAM));
  let state = optimizer.init(params);
  const losses: number[] = [];
  const perEpoch = Math.floor(examples.length / batchSize);
  let order: ArrayLike<number> = [];
  for (let step = 0; step < steps; step++) {
    const position = step % perEpoch;
    if (position === 0) {
      const epoch = step / perEpoch;
      order = deriveRng(seed, ORDER_STREAM, epoch).permutation(examples.length).data;
    }
    const picked = Array.from(
      { length: batchSize },
      (_, b) => examples[order[position * batchSize + b]!]!,
    );
    const [loss, grads] = lossAndGrad(params, wordBatch(picked));
    [params, state] = optimizer.update(grads, state, params);
    losses.push(loss.item());
    if ((step + 1) % logEvery === 0 || step + 1 === steps) {
      const recent = losses.slice(-logEvery);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      log(`  ${model.kind} step ${step + 1}/${steps}: batch loss ${mean.toFixed(3)} nats/char`);
    }
  }
  return { params, losses };
}

/**
 * Mean −log p over every predicted character of the words (each letter and the closing "\n"),
 * in nats: the bigram baseline's measure. Words are batched by length to keep padding short.
 */
export function evaluateNats(
  model: CharModel,
  params: unknown,
  examples: readonly WordExample[],
  batchSize = 256,
): number {
  if (examples.length === 0) throw argumentError("evaluateNats", "examples must not be empty");
  const byLength = [...examples].sort((a, b) => a.input.length - b.input.length);
  let total = 0;
  let count = 0;
  for (let i = 0; i < byLength.length; i += batchSize) {
    const batch = wordBatch(byLength.slice(i, i + batchSize));
    const logits = model.layer.apply(params, batch.input);
    total += crossEntropy(logits, batch.target, { ignoreIndex: IGNORE, reduction: "sum" }).item();
  }
  for (const e of examples) count += e.target.length;
  return total / count;
}
