// What did the network learn? After a short training run on Fashion-MNIST, this draws (as Zeiler
// & Fergus, 2014, suggest) the first layer's filters and the activation maps
// of one test image through every conv and pool layer, each channel as one tile of a PNG grid.
//
//   tsx visualize.ts [--data DIR] [--out DIR] [--limit N]
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  arange,
  gather,
  getBackend,
  prng,
  reshape,
  softmax,
  tensor,
  valueAndGrad,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  FASHION_MNIST_CLASSES,
  dataLoader,
  tensorDataset,
  type ImageGridOptions,
} from "@tapegrad/data";
import { fashionMnist, saveImageGrid } from "@tapegrad/data/node";
import {
  accuracy,
  conv2d,
  crossEntropy,
  flatten,
  linear,
  maxPool2d,
  optim,
  relu,
  sequential,
  summary,
  init,
  type Layer,
} from "@tapegrad/nn";

// conv1 starts from small weights so that what its filters show after a short run is mostly
// what training put there, not the random start (from the default U(±0.2), a 157-step run
// changes them by only about a third; from N(0, 0.01²) it changes them fivefold).
const CONV1_INIT_STD = 0.01;

/** Two conv → relu → pool stages and a linear classifier, for 1×28×28 inputs. */
export function smallCnn() {
  return sequential({
    conv1: conv2d({
      inChannels: 1,
      outChannels: 16,
      kernelSize: 5,
      padding: 2,
      weightInit: init.normal({ std: CONV1_INIT_STD }),
    }),
    relu1: relu(),
    pool1: maxPool2d({ kernelSize: 2 }),
    conv2: conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3, padding: 1 }),
    relu2: relu(),
    pool2: maxPool2d({ kernelSize: 2 }),
    flatten: flatten(),
    fc: linear({ inFeatures: 32 * 7 * 7, outFeatures: 10 }),
  });
}

type Model = ReturnType<typeof smallCnn>;
type Params = ReturnType<Model["init"]>["params"];

/** The output of every child of a sequential model, in order, for one input. */
export function layerOutputs(model: Layer, params: unknown, x: Tensor): [string, Layer, Tensor][] {
  const outputs: [string, Layer, Tensor][] = [];
  let y = x;
  for (const [name, layer] of Object.entries(model.children ?? {})) {
    y = layer.apply((params as Record<string, unknown>)[name], y);
    outputs.push([name, layer, y]);
  }
  return outputs;
}

/**
 * Rescales every H×W plane of x [N, C, H, W] to [0, 1] on its own (min → 0, max → 1), so each
 * tile uses the full grey range; a constant plane (a dead channel) becomes black.
 */
export function normalizePlanes(x: Tensor): Tensor {
  const plane = x.shape[2]! * x.shape[3]!;
  const data = x.data;
  const out = new Float32Array(x.size);
  for (let start = 0; start < x.size; start += plane) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = start; i < start + plane; i++) {
      lo = Math.min(lo, data[i]!);
      hi = Math.max(hi, data[i]!);
    }
    const span = hi - lo;
    for (let i = start; i < start + plane; i++) out[i] = span > 0 ? (data[i]! - lo) / span : 0;
  }
  return tensor(out, { shape: x.shape });
}

/** Channels [1, C, H, W] of one image as C grey images [C, 1, H, W]. */
function channelsAsImages(x: Tensor): Tensor {
  const [c, h, w] = [x.shape[1]!, x.shape[2]!, x.shape[3]!];
  return reshape(x, [c, 1, h, w]);
}

/** Tile captions 0…n−1. */
const indices = (n: number) => Array.from({ length: n }, (_, i) => i);

/** How big each picture's pixels are drawn: small maps get bigger pixels. */
export function scaleFor(size: number): number {
  return Math.max(2, Math.round(84 / size));
}

export interface VisualizeOptions {
  /** Directory of the Fashion-MNIST IDX files (else $TAPEGRAD_DATA, else Debian's path). */
  readonly data?: string;
  /** Where the PNGs go (created if missing). */
  readonly out: string;
  /** Train on the first N training images (default 10,000). */
  readonly limit?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Which test image to trace through the network (default 0). */
  readonly image?: number;
  readonly log?: (line: string) => void;
}

export interface VisualizeResult {
  /** Absolute paths of the PNGs written, in order. */
  readonly files: readonly string[];
  readonly steps: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly testAccuracy: number;
  readonly trainSeconds: number;
  readonly params: Params;
}

/** Trains the small CNN, then writes the input, filter and activation grids into `out`. */
export async function visualize(options: VisualizeOptions): Promise<VisualizeResult> {
  const {
    data,
    limit = 10_000,
    epochs = 1,
    batchSize = 64,
    lr = 2e-3,
    seed = 0,
    image = 0,
    log = () => {},
  } = options;
  const dirOption = data === undefined ? {} : { dir: data };
  const train = await fashionMnist({ split: "train", ...dirOption });
  const test = await fashionMnist({ split: "test", ...dirOption });
  const n = Math.min(limit, train.images.shape[0]!);
  const first = arange(0, n, 1, "int32");
  const loader = dataLoader(
    tensorDataset(gather(train.images, first), gather(train.labels, first)),
    { batchSize, shuffle: true, seed },
  );

  const model = smallCnn();
  let { params } = model.init(prng(seed));
  const optimizer = optim.adam({ lr });
  let optState = optimizer.init(params);
  const lossAndGrad = valueAndGrad((p: Params, x: Tensor, y: Tensor) =>
    crossEntropy(model.apply(p, x), y),
  );

  log(`training on ${n} images, ${epochs} epoch(s) of ${loader.length} batches of ${batchSize}`);
  const start = performance.now();
  let steps = 0;
  let firstLoss = NaN;
  let recent = 0;
  let lastLoss = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [x, y] of loader.epoch(epoch)) {
      const [loss, grads] = lossAndGrad(params, x!, y!);
      [params, optState] = optimizer.update(grads, optState, params);
      steps++;
      lastLoss = loss.item();
      if (steps === 1) firstLoss = lastLoss;
      recent += lastLoss;
      if (steps % 50 === 0) {
        const seconds = (performance.now() - start) / 1000;
        log(`  step ${steps}: mean loss ${(recent / 50).toFixed(3)} (${seconds.toFixed(1)} s)`);
        recent = 0;
      }
    }
  }
  const trainSeconds = (performance.now() - start) / 1000;
  const testAccuracy = evaluate(model, params, test.images, test.labels);
  log(
    `trained ${steps} steps in ${trainSeconds.toFixed(1)} s; ` +
      `test accuracy ${(100 * testAccuracy).toFixed(1)}% on ${test.images.shape[0]} images`,
  );

  await mkdir(options.out, { recursive: true });
  const files: string[] = [];
  const save = async (name: string, images: Tensor, grid: ImageGridOptions) => {
    const path = resolve(join(options.out, name));
    await saveImageGrid(path, images, grid);
    files.push(path);
  };

  // The input, captioned with its true class.
  const index = tensor([image], { dtype: "int32" });
  const x = gather(test.images, index);
  const label = test.labels.data[image]!;
  await save("input.png", x, {
    labels: [label],
    classNames: FASHION_MNIST_CLASSES,
    scale: scaleFor(x.shape[2]!) * 2,
  });

  // First-layer filters: each 5×5 kernel rescaled to the full grey range on its own.
  const weight = params.conv1.weight;
  await save("conv1-filters.png", normalizePlanes(weight), {
    labels: indices(weight.shape[0]!),
    columns: 8,
    scale: 12,
  });

  // Activation maps after each conv and pool layer, one tile per channel.
  const outputs = layerOutputs(model, params, x);
  for (const [name, layer, y] of outputs) {
    if (layer.kind !== "conv2d" && layer.kind !== "maxPool2d") continue;
    await save(`activations-${name}.png`, normalizePlanes(channelsAsImages(y)), {
      labels: indices(y.shape[1]!),
      columns: 8,
      scale: scaleFor(y.shape[2]!),
    });
  }
  const logits = outputs[outputs.length - 1]![2];
  const probabilities = softmax(logits, -1).data;
  const predicted = argmaxOf(probabilities);
  log(
    `test image ${image}: ${FASHION_MNIST_CLASSES[label]}, predicted ` +
      `${FASHION_MNIST_CLASSES[predicted]} (p = ${probabilities[predicted]!.toFixed(2)})`,
  );
  return { files, steps, firstLoss, lastLoss, testAccuracy, trainSeconds, params };
}

function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Accuracy over a whole split, in batches of 1,000 to bound memory. */
function evaluate(model: Model, params: Params, images: Tensor, labels: Tensor): number {
  const n = images.shape[0]!;
  let correct = 0;
  for (let start = 0; start < n; start += 1000) {
    const rows = arange(start, Math.min(n, start + 1000), 1, "int32");
    const batch = gather(labels, rows);
    correct += accuracy(model.apply(params, gather(images, rows)), batch) * batch.size;
  }
  return correct / n;
}

export function parseCli(argv: readonly string[]): VisualizeOptions {
  // `pnpm start -- --out x` passes the "--" along; it separates nothing here.
  const args = argv.filter((a) => a !== "--");
  const { values } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      out: { type: "string", default: "visualize-out" },
      limit: { type: "string", default: "10000" },
    },
    strict: true,
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(`--limit must be a positive integer, got "${values.limit}"`);
  }
  return { out: values.out, limit, ...(values.data === undefined ? {} : { data: values.data }) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseCli(process.argv.slice(2));
  console.log(summary(smallCnn(), [1, 1, 28, 28]));
  console.log(`backend: ${getBackend()}`);
  const start = performance.now();
  const result = await visualize({ ...options, log: console.log });
  for (const file of result.files) console.log(`wrote ${file}`);
  console.log(`total ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
