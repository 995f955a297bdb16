import { existsSync } from "node:fs";
import { join } from "node:path";
import { TapegradError } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import { mnistFromIdx, type LabelledImages } from "../formats/mnist.js";
import { readIdxFile } from "./readIdxFile.js";

/** Where Debian's dataset-fashion-mnist package installs the four IDX files. */
export const FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";

/** Which split of fashionMnist or mnist to load, and from where. */
export interface MnistOptions {
  /** "train" (60,000 images) or "test" (10,000). */
  readonly split: "train" | "test";
  /** Directory holding the IDX files; default $TAPEGRAD_DATA, then the system directory. */
  readonly dir?: string;
}

// Both datasets use the same four file names, optionally gzip-compressed.
const FILES = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
} as const;

/**
 * Fashion-MNIST (Zalando): 60,000 train / 10,000 test grey 28×28 images of 10 clothing classes
 * (FASHION_MNIST_CLASSES), as float32 images [N,1,28,28] in [0,1] and int32 labels [N].
 */
export function fashionMnist(options: MnistOptions): Promise<LabelledImages> {
  return loadMnistLike(
    "Fashion-MNIST",
    options,
    [FASHION_MNIST_SYSTEM_DIR],
    ["apt-get install dataset-fashion-mnist (installs into " + FASHION_MNIST_SYSTEM_DIR + ")"],
  );
}

/** The original MNIST digits in the same layout as fashionMnist (no system package exists). */
export function mnist(options: MnistOptions): Promise<LabelledImages> {
  return loadMnistLike("MNIST", options, [], []);
}

async function loadMnistLike(
  dataset: string,
  { split, dir }: MnistOptions,
  systemDirs: readonly string[],
  installHints: readonly string[],
): Promise<LabelledImages> {
  if (split !== "train" && split !== "test") {
    throw argumentError(dataset, `split must be "train" or "test", got ${String(split)}`);
  }
  const files = FILES[split];
  const fromEnv = process.env["TAPEGRAD_DATA"];
  const dirs = dir !== undefined ? [dir] : [...(fromEnv ? [fromEnv] : []), ...systemDirs];
  const tried: string[] = [];
  for (const d of dirs) {
    const images = findFile(d, files.images, tried);
    const labels = findFile(d, files.labels, tried);
    if (images === undefined || labels === undefined) continue;
    const [imageIdx, labelIdx] = await Promise.all([readIdxFile(images), readIdxFile(labels)]);
    return mnistFromIdx(imageIdx, labelIdx, { images, labels });
  }
  const looked =
    tried.length > 0
      ? `Looked for:\n${tried.map((p) => `  ${p}`).join("\n")}`
      : "There was no directory to look in.";
  const unset =
    dir === undefined && !fromEnv ? "\n(No directory was given and TAPEGRAD_DATA is not set.)" : "";
  const hints = [
    ...installHints,
    `download the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ` +
      `t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into a directory DIR and pass ` +
      `--data DIR (examples) or { dir: DIR }, or set TAPEGRAD_DATA=DIR`,
  ];
  throw new TapegradError(
    "NOT_FOUND",
    `${dataset} ${split} files not found. ${looked}${unset}\nTo get the data:\n` +
      hints.map((hint) => `  - ${hint}`).join("\n"),
  );
}

/** `dir/name.gz` or `dir/name`, whichever exists first; records every path looked at. */
function findFile(dir: string, name: string, tried: string[]): string | undefined {
  for (const candidate of [join(dir, `${name}.gz`), join(dir, name)]) {
    tried.push(candidate);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
