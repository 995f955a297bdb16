// Prepares the page's data at build time: the first TRAIN_COUNT training and TEST_COUNT test
// images of the real Fashion-MNIST, as gzip-compressed IDX files in generated/data/ (Vite's
// public directory, so they are copied into the build as they are), with a manifest.json.
//
// The IDX files come from Debian's dataset-fashion-mnist package (/usr/share/datasets/
// fashion-mnist), from $TAPEGRAD_DATA, or from --data DIR. When none is there, the fallback is a
// small synthetic labelled dataset (ten classes of simple strokes), and the page says so.
//
//   tsx scripts/prepareData.ts [--data DIR] [--train N] [--test N] [--synthetic]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { FASHION_MNIST_CLASSES, writeIdx, type IdxData } from "@tapegrad/data";
import { FASHION_MNIST_SYSTEM_DIR, readIdxFile } from "@tapegrad/data/node";
import { existsSync } from "node:fs";
import { SYNTHETIC_CLASSES, synthesize } from "../src/synthetic.js";

export const TRAIN_COUNT = 4000;
export const TEST_COUNT = 1000;

/** What the page reads first: where the data came from and how to decode it. */
export interface Manifest {
  readonly source: "fashion-mnist" | "synthetic";
  readonly classes: readonly string[];
  readonly train: { readonly images: string; readonly labels: string; readonly count: number };
  readonly test: { readonly images: string; readonly labels: string; readonly count: number };
}

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "generated", "data");

/** The first `count` items along axis 0 of an IDX array. */
function head(idx: IdxData, count: number): IdxData {
  const n = Math.min(count, idx.shape[0]!);
  const per = idx.shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    dtype: idx.dtype,
    shape: [n, ...idx.shape.slice(1)],
    data: idx.data.subarray(0, n * per),
  };
}

function findDir(explicit: string | undefined): string | undefined {
  const candidates = explicit
    ? [explicit]
    : [process.env["TAPEGRAD_DATA"], FASHION_MNIST_SYSTEM_DIR].filter((d): d is string => !!d);
  return candidates.find((d) =>
    ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].every(
      (f) => existsSync(join(d, f)) || existsSync(join(d, `${f}.gz`)),
    ),
  );
}

async function readSplit(dir: string, prefix: "train" | "t10k", count: number) {
  const path = (kind: "images-idx3" | "labels-idx1") => {
    const base = join(dir, `${prefix}-${kind}-ubyte`);
    return existsSync(`${base}.gz`) ? `${base}.gz` : base;
  };
  const [images, labels] = await Promise.all([
    readIdxFile(path("images-idx3")),
    readIdxFile(path("labels-idx1")),
  ]);
  return { images: head(images, count), labels: head(labels, count) };
}

function write(name: string, idx: IdxData): string {
  writeFileSync(join(outDir, name), gzipSync(writeIdx(idx), { level: 9 }));
  return `data/${name}`;
}

export async function prepareData(options: {
  dir?: string;
  train?: number;
  test?: number;
  synthetic?: boolean;
}): Promise<Manifest> {
  const trainCount = options.train ?? TRAIN_COUNT;
  const testCount = options.test ?? TEST_COUNT;
  mkdirSync(outDir, { recursive: true });
  const dir = options.synthetic ? undefined : findDir(options.dir);
  let source: Manifest["source"];
  let train: { images: IdxData; labels: IdxData };
  let test: { images: IdxData; labels: IdxData };
  if (dir !== undefined) {
    source = "fashion-mnist";
    [train, test] = await Promise.all([
      readSplit(dir, "train", trainCount),
      readSplit(dir, "t10k", testCount),
    ]);
  } else {
    source = "synthetic";
    train = synthesize(trainCount, 1);
    test = synthesize(testCount, 2);
  }
  const manifest: Manifest = {
    source,
    classes: source === "fashion-mnist" ? FASHION_MNIST_CLASSES : SYNTHETIC_CLASSES,
    train: {
      images: write("train-images.idx.gz", train.images),
      labels: write("train-labels.idx.gz", train.labels),
      count: train.labels.shape[0]!,
    },
    test: {
      images: write("test-images.idx.gz", test.images),
      labels: write("test-labels.idx.gz", test.labels),
      count: test.labels.shape[0]!,
    },
  };
  writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const number = (flag: string) => (value(flag) === undefined ? undefined : Number(value(flag)));
  const manifest = await prepareData({
    dir: value("--data"),
    train: number("--train"),
    test: number("--test"),
    synthetic: argv.includes("--synthetic"),
  });
  const why = argv.includes("--synthetic") ? "--synthetic" : "Fashion-MNIST files not found";
  const what =
    manifest.source === "fashion-mnist"
      ? "Fashion-MNIST"
      : `a synthetic dataset (${why}; see README.md)`;
  console.log(
    `prepared ${manifest.train.count} training and ${manifest.test.count} test images of ` +
      `${what} in ${outDir}`,
  );
}
