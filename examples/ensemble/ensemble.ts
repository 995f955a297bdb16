// An ensemble of small MLPs on Fashion-MNIST, trained two ways on the same batches:
//   1. one after another, each member from its own seed (trainOneByOne);
//   2. all at once, params stacked on a leading axis and the step vmapped (trainTogether);
// then: do the two give the same members, how long did each take, and how much better is the
// ensemble (averaged class probabilities) than its members?
//
//   tsx ensemble.ts [--members 8] [--epochs 2] [--limit N] [--hidden 64] [--batch-size 128]
//                   [--dtype float32|float64] [--own-batches] [--data DIR]
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { argumentError, cast, reshape, slice } from "@tapegrad/autodiff";
import { fashionMnist } from "@tapegrad/data/node";
import {
  evaluate,
  maxParamDifference,
  memberMlp,
  trainOneByOne,
  trainTogether,
  type EnsembleOptions,
  type LabelledSet,
  type TrainedEnsemble,
} from "./ensembleTraining.js";

const HELP = `Usage: tsx ensemble.ts [options]

Trains M MLPs (784 → hidden → 10) on Fashion-MNIST one after another and again all at once with
vmap, on the same batches, and compares their params, their wall time and their test accuracy.

Options:
  --members M       ensemble size; member i starts from seed i (default 8)
  --epochs E        passes over the training images (default 2)
  --limit N         train on the first N training images (default all 60,000)
  --hidden H        hidden units per member (default 64)
  --batch-size B    images per step, the same batch for every member (default 128)
  --dtype D         float32 or float64 (default float32)
  --own-batches     give each member its own shuffle of the data (default: one batch order,
                    each batch shared by all members)
  --data DIR        the Fashion-MNIST IDX files (default $TAPEGRAD_DATA, else
                    /usr/share/datasets/fashion-mnist)
  --help            show this text`;

/** Fashion-MNIST's images flattened to [N, 784] in `dtype`, the first `limit` of them. */
async function loadFlat(
  split: "train" | "test",
  dtype: "float32" | "float64",
  dir?: string,
  limit = Infinity,
): Promise<LabelledSet> {
  const { images, labels } = await fashionMnist({ split, dir });
  const n = Math.min(limit, images.shape[0]!);
  const [, c, h, w] = images.shape as [number, number, number, number];
  const x = reshape(slice(images, [0, 0, 0, 0], [n, c, h, w]), [n, c * h * w]);
  return { x: dtype === "float32" ? x : cast(x, dtype), y: slice(labels, [0], [n]) };
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw argumentError("ensemble", `--${name} must be a positive integer, got ${text}`);
  }
  return value;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function timing(name: string, r: TrainedEnsemble, members: number, steps: number): string {
  const total = `  ${name}: ${(r.totalMs / 1000).toFixed(1)} s in all; per step `;
  const mean = r.stepMs.reduce((sum, v) => sum + v, 0) / r.stepMs.length;
  const stats = `median ${median(r.stepMs).toFixed(2)} ms, mean ${mean.toFixed(2)} ms`;
  if (r.stepMs.length === steps) return `${total}of all members: ${stats}`;
  return `${total}of one member: ${stats} (× ${members}: ${(median(r.stepMs) * members).toFixed(1)}, ${(mean * members).toFixed(1)} ms)`;
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== "--"),
    options: {
      members: { type: "string", default: "8" },
      epochs: { type: "string", default: "2" },
      limit: { type: "string" },
      hidden: { type: "string", default: "64" },
      "batch-size": { type: "string", default: "128" },
      dtype: { type: "string", default: "float32" },
      "own-batches": { type: "boolean", default: false },
      data: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const dtype = values.dtype;
  if (dtype !== "float32" && dtype !== "float64") {
    throw argumentError("ensemble", `--dtype must be float32 or float64, got ${dtype}`);
  }
  const members = positiveInt("members", values.members);
  const limit = values.limit === undefined ? Infinity : positiveInt("limit", values.limit);
  const options: EnsembleOptions = {
    seeds: Array.from({ length: members }, (_, i) => i),
    epochs: positiveInt("epochs", values.epochs),
    hidden: positiveInt("hidden", values.hidden),
    batchSize: positiveInt("batch-size", values["batch-size"]),
    dtype,
    batches: values["own-batches"] ? "perMember" : "shared",
  };
  const train = await loadFlat("train", dtype, values.data, limit);
  const test = await loadFlat("test", dtype, values.data);
  const steps = options.epochs! * Math.ceil(train.x.shape[0]! / options.batchSize!);
  console.log(
    `${members} MLPs 784 → ${options.hidden} → 10 (${dtype}), ${train.x.shape[0]} training ` +
      `images, ${options.epochs} epoch(s) of batch ${options.batchSize}: ${steps} steps each, ` +
      (options.batches === "shared" ? "every batch shared" : "each member its own batches"),
  );

  // V8 compiles the code of whichever training runs first while timing it: a short untimed run
  // of both first, so that neither pays for that.
  const warmUp = Math.min(train.x.shape[0]!, 10 * options.batchSize!);
  const features = train.x.shape[1]!;
  const warmUpSet = {
    x: slice(train.x, [0, 0], [warmUp, features]),
    y: slice(train.y, [0], [warmUp]),
  };
  trainOneByOne(warmUpSet, { ...options, epochs: 1 });
  trainTogether(warmUpSet, { ...options, epochs: 1 });

  console.log("1. one after another");
  const oneByOne = trainOneByOne(train, options);
  console.log(timing("one by one", oneByOne, members, steps));
  console.log("2. all at once (vmap over the stacked params)");
  const together = trainTogether(train, options);
  console.log(timing("together  ", together, members, steps));
  const speedup = oneByOne.totalMs / together.totalMs;
  console.log(`  together / one by one: ${speedup.toFixed(2)}× as fast`);

  console.log("3. same members?");
  const diff = maxParamDifference(together.members, oneByOne.members);
  const lossDiff = Math.max(
    ...together.losses.flatMap((ls, i) => ls.map((v, s) => Math.abs(v - oneByOne.losses[i]![s]!))),
  );
  console.log(`  largest |Δparam| after training: ${diff.toExponential(2)}`);
  console.log(`  largest |Δloss| at any step:     ${lossDiff.toExponential(2)}`);

  console.log("4. test accuracy (10,000 images)");
  const model = memberMlp(784, options.hidden!, 10, dtype);
  const acc = evaluate(model, together.members, test);
  const average = acc.members.reduce((s, v) => s + v, 0) / acc.members.length;
  console.log(`  members:  ${acc.members.map(pct).join(", ")}`);
  console.log(`  member average ${pct(average)}, best ${pct(Math.max(...acc.members))}`);
  console.log(`  ensemble (mean of the members' probabilities): ${pct(acc.ensemble)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
