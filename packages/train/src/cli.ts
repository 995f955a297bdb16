#!/usr/bin/env -S npx tsx
// `pnpm train`: trains a CNN on real Fashion-MNIST. See `pnpm train --help`.
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { resolve } from "node:path";
import { getBackend, wasmThreads, wasmVariant } from "@tapegrad/autodiff";
import { MODEL_NAMES, type ModelName } from "./models.js";
import { createProgress } from "./progress.js";
import { defaultLr, RECIPES, type OptimizerName } from "./recipes.js";
import { train } from "./train.js";

const HELP = `Usage: pnpm train [options]

Trains a CNN on Fashion-MNIST and writes metrics, curves, a confusion table and a checkpoint
per epoch to --out.

Options:
  --model lenet|resnet|inception|vit  model (default lenet)
  --epochs N                          epochs (default 30 for vit, else 10)
  --batch-size N                      batch size (default 64)
  --lr X                              learning rate (default 1e-3 for adam/adamw, 0.05 for sgd)
  --optimizer sgd|adam|adamw          optimizer (default adamw for vit, else adam)
  --weight-decay X                    adamw's weight decay (default 0.05 for vit, else 0.01)
  --label-smoothing X                 label smoothing of the training loss (default 0.1 for vit,
                                      else 0)
  --augment, --no-augment             random 2-pixel shifts and left-right flips of the training
                                      images (default on for vit, off for the CNNs)
  --seed N                            seed of initialisation, data order and dropout (default 0)
  --data DIR                          Fashion-MNIST IDX files (default $TAPEGRAD_DATA, else
                                      /usr/share/datasets/fashion-mnist)
  --out DIR                           output directory (default runs/<timestamp>)
  --resume CHECKPOINT                 continue from a checkpoint written by an earlier run
  --limit N                           use only the first N training images
  --export-onnx                       also write the model as ONNX (model.onnx) after each epoch
  --no-jit                            run every step eagerly instead of replaying the step that
                                      jit traced (the same results; for comparison)
  --help                              show this text`;

// Node 20's V8 has relaxed SIMD, whose fused multiply-add the wasm GEMM uses, behind a flag (Node
// ≥ 22 ships it). The backend compiles its module on the first kernel call, after this line.
setFlagsFromString("--experimental-wasm-relaxed-simd");

function fail(message: string): never {
  process.stderr.write(`train: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

function integer(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    fail(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** A number in [0, max] given as --name, else the fallback. */
function fraction(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (value.trim() === "" || !(x >= 0 && x <= max)) {
    const range = max === Infinity ? "≥ 0" : `in [0, ${max}]`;
    fail(`--${name} must be a number ${range}, got "${value}"`);
  }
  return x;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    fail(`--${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

/**
 * A path the user typed, against the directory they ran the command from: pnpm runs the script
 * in packages/train and passes the caller's directory as INIT_CWD, so `pnpm train` at the root
 * writes ./runs there and `--resume runs/…` finds it.
 */
function fromCaller(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

/** "wasm (relaxed SIMD, 2 threads)", "js", …: what the kernels run on. */
function describeBackend(): string {
  const backend = getBackend();
  if (backend !== "wasm") return backend;
  const threads = wasmThreads();
  return `wasm (${wasmVariant()} SIMD, ${threads} thread${threads === 1 ? "" : "s"})`;
}

/** --augment or --no-augment (not both), else the recipe's choice. */
function augmentOption(on: boolean | undefined, off: boolean | undefined, fallback: boolean) {
  if (on && off) fail("--augment and --no-augment contradict");
  if (on) return true;
  return off ? false : fallback;
}

/** "adamw lr 0.001 weight decay 0.05, label smoothing 0.1, augmented", "adam lr 0.001", … */
function describeRecipe(o: {
  optimizer: OptimizerName;
  lr: number;
  weightDecay: number;
  labelSmoothing: number;
  augment: boolean;
}): string {
  const parts = [
    `${o.optimizer} lr ${o.lr}${o.optimizer === "adamw" ? ` weight decay ${o.weightDecay}` : ""}`,
  ];
  if (o.labelSmoothing > 0) parts.push(`label smoothing ${o.labelSmoothing}`);
  if (o.augment) parts.push("augmented");
  return parts.join(", ");
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        model: { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        lr: { type: "string" },
        optimizer: { type: "string" },
        "weight-decay": { type: "string" },
        "label-smoothing": { type: "string" },
        augment: { type: "boolean" },
        "no-augment": { type: "boolean" },
        "no-jit": { type: "boolean" },
        seed: { type: "string" },
        data: { type: "string" },
        out: { type: "string" },
        resume: { type: "string" },
        limit: { type: "string" },
        "export-onnx": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    return;
  }
  const model = oneOf<ModelName>("model", values.model, MODEL_NAMES, "lenet");
  const recipe = RECIPES[model];
  const optimizer = oneOf<OptimizerName>(
    "optimizer",
    values.optimizer,
    ["sgd", "adam", "adamw"],
    recipe.optimizer,
  );
  const lr = values.lr === undefined ? defaultLr(optimizer) : Number(values.lr);
  if (!(lr > 0)) fail(`--lr must be a positive number, got "${values.lr}"`);
  const epochs = integer("epochs", values.epochs, recipe.epochs);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const options = {
    model,
    epochs,
    batchSize: integer("batch-size", values["batch-size"], 64),
    lr,
    optimizer,
    weightDecay: fraction("weight-decay", values["weight-decay"], recipe.weightDecay, Infinity),
    labelSmoothing: fraction(
      "label-smoothing",
      values["label-smoothing"],
      recipe.labelSmoothing,
      1,
    ),
    augment: augmentOption(values.augment, values["no-augment"], recipe.augment),
    seed: integer("seed", values.seed, 0, 0),
    data: values.data === undefined ? undefined : fromCaller(values.data),
    out: fromCaller(values.out ?? `runs/${stamp}`),
    resume: values.resume === undefined ? undefined : fromCaller(values.resume),
    limit: values.limit === undefined ? undefined : integer("limit", values.limit, 0),
    exportOnnx: values["export-onnx"] === true,
    jit: values["no-jit"] !== true,
    progress: createProgress(epochs),
  };
  console.log(
    `training ${options.model} on Fashion-MNIST for ${epochs} epochs (batch ${options.batchSize}, ` +
      `${describeRecipe(options)}, seed ${options.seed}, backend ${describeBackend()}, ` +
      `${options.jit ? "jit" : "eager"}) → ${options.out}`,
  );
  const result = await train(options);
  console.log(
    `done: ${options.model} test accuracy ${(100 * result.testAccuracy).toFixed(2)}% ` +
      `after ${result.history.length} epochs in ${result.seconds.toFixed(1)} s; outputs in ${options.out}`,
  );
}

// A second Ctrl-C is not needed: checkpoints are written atomically (temporary file + rename),
// so stopping at any moment leaves the last complete checkpoint intact.
main().catch((error: unknown) => {
  process.stderr.write(`train: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
