// Timings behind the data loader's design, run with
// `npx -y pnpm@10 --filter @tapegrad/bench run loader-timings`: batch gathering (fast path vs
// per-sample stacking), the augmentation path, and whether prefetching the next batch helps a
// training loop.
import { matmul, prng, relu, tensor, type Tensor } from "@tapegrad/autodiff";
import {
  compose,
  dataLoader,
  mapDataset,
  normalize,
  onInputs,
  randomCrop,
  randomHorizontalFlip,
  tensorDataset,
} from "@tapegrad/data";

const N = 60000;
const rng = prng(0);
const images = rng.uniform([N, 1, 28, 28]);
const labels = rng.randint(0, 10, [N]);
const train = tensorDataset(images, labels);

/** Median over `repeats` of the mean time per call of `fn` over `calls` calls, in µs. */
function micros(calls: number, fn: (k: number) => void, repeats = 7): number {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    for (let k = 0; k < calls; k++) fn(k);
    times.push(((performance.now() - start) * 1000) / calls);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)]!;
}

function batchIndices(k: number): Int32Array {
  return Int32Array.from({ length: 64 }, (_, i) => (k * 7919 + i * 104729) % N);
}

const fast = micros(2000, (k) => train.getBatch(batchIndices(k)));
const perSample = mapDataset(train, (s) => s);
const slowLoader = dataLoader(perSample, { batchSize: 64, shuffle: true });
const slowBatches = slowLoader.epoch(0)[Symbol.iterator]();
const slow = micros(200, () => slowBatches.next());
console.log(
  `batch 64 of [1,28,28]: getBatch fast path ${fast.toFixed(0)} µs, per-sample stack ${slow.toFixed(0)} µs`,
);

const augment = compose(
  randomCrop(28, { padding: 2 }),
  randomHorizontalFlip(),
  normalize(0.286, 0.353),
);
const batch = train.getBatch(batchIndices(0))[0]!;
const augmentTime = micros(500, (k) => augment(batch, prng(k)));
console.log(`augmentation (crop pad 2, flip, normalize) of batch 64: ${augmentTime.toFixed(0)} µs`);

// A stand-in training step: forward and a same-sized backward-like matmul of a 784-256-10 MLP.
const w1 = rng.normal([784, 256], { std: 0.05 });
const w2 = rng.normal([256, 10], { std: 0.05 });
function step(x: Tensor): void {
  const flat = tensor(x.data, { shape: [x.shape[0]!, 784] });
  const h = relu(matmul(flat, w1));
  matmul(matmul(h, w2), tensor(new Float32Array(10 * 256), { shape: [10, 256] }));
}

const BATCHES = 200;
const options = { batchSize: 64, shuffle: true, seed: 1, transform: onInputs(augment) };
async function epochMs(prefetch: boolean, mode: "sync" | "async" | "async+io"): Promise<number> {
  const loader = dataLoader(train, { ...options, prefetch });
  const start = performance.now();
  let k = 0;
  if (mode === "sync") {
    for (const [x] of loader.epoch(0)) {
      step(x!);
      if (++k === BATCHES) break;
    }
  } else {
    for await (const [x] of loader.epoch(0)) {
      step(x!);
      // An awaited 2 ms wait, like a device readback or logging I/O inside the loop.
      if (mode === "async+io") await new Promise((resolve) => setTimeout(resolve, 2));
      if (++k === BATCHES) break;
    }
  }
  return performance.now() - start;
}

const stepTime = micros(100, () => step(batch));
console.log(`training step stand-in: ${(stepTime / 1000).toFixed(2)} ms per batch`);
// Round-robin over the variants, so drift in machine load hits them all alike.
const variants = [
  { mode: "sync", prefetch: false },
  { mode: "async", prefetch: false },
  { mode: "async", prefetch: true },
  { mode: "async+io", prefetch: false },
  { mode: "async+io", prefetch: true },
] as const;
const runs = variants.map(() => [] as number[]);
for (let r = 0; r < 5; r++) {
  for (const [k, { mode, prefetch }] of variants.entries())
    runs[k]!.push(await epochMs(prefetch, mode));
}
for (const [k, { mode, prefetch }] of variants.entries()) {
  const sorted = [...runs[k]!].sort((a, b) => a - b);
  const median = sorted[2]!;
  console.log(
    `${mode.padEnd(8)} prefetch=${String(prefetch).padEnd(5)} ${BATCHES} batches: ` +
      `median ${median.toFixed(0)} ms (${((median / BATCHES) * 1000).toFixed(0)} µs/batch), ` +
      `best ${sorted[0]!.toFixed(0)} ms`,
  );
}
