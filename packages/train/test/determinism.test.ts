import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import {
  prng,
  setBackend,
  setWasmThreads,
  valueAndGrad,
  wasmAvailable,
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
} from "@tapegrad/data";
import { fashionMnist } from "@tapegrad/data/node";
import { crossEntropy, optim, treeFlatten } from "@tapegrad/nn";
import { lenet } from "../src/models.js";
import { writeFixtureDataset } from "./fixture.js";

// Everything random in a run is a function of the seed: initialisation, the loader's order per
// epoch, the augmentation of each batch (deriveRng(seed, 1, epoch, batch) inside the loader)
// and the per-step generator. So two runs with the same seed and backend must end with the
// same bits. See docs/reliability.md for what may differ across backends and thread counts.

const STEPS = 10;
const BATCH = 32;
// 128 images: 4 batches per epoch, so 10 steps cross two epoch boundaries (two new orders).
const { images, labels } = await fashionMnist({
  split: "train",
  dir: writeFixtureDataset(128, 16),
});
const x = normalize([0.286], [0.353])(images);
const augment = compose(randomCrop(28, { padding: 2 }), randomHorizontalFlip());

function loaderFor(seed: number) {
  return dataLoader(tensorDataset(x, labels), {
    batchSize: BATCH,
    shuffle: true,
    seed,
    transform: onInputs(augment),
  });
}

/** One hash per parameter leaf: short diffs when runs disagree, unlike a hex dump. */
function fingerprint(tree: unknown): string[] {
  return treeFlatten(tree).map(([path, leaf]) => {
    const data = (leaf as Tensor).data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return `${path}:${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}`;
  });
}

/** LeNet trained for STEPS Adam steps on augmented, shuffled batches; its params' fingerprint. */
function trainSteps(seed: number): string[] {
  const model = lenet();
  const optimizer = optim.adam({ lr: 1e-3 });
  let params = model.init(prng(seed)).params;
  let optState = optimizer.init(params);
  const lossGrad = valueAndGrad((p: unknown, xb: Tensor, yb: Tensor, rng: Rng) =>
    crossEntropy(model.apply(p, xb, { training: true, rng }), yb),
  );
  const loader = loaderFor(seed);
  let step = 0;
  for (let epoch = 0; step < STEPS; epoch++) {
    let b = 0;
    for (const [xb, yb] of loader.epoch(epoch) as Iterable<[Tensor, Tensor]>) {
      if (step === STEPS) break;
      const [, grads] = lossGrad(params, xb, yb, deriveRng(seed, epoch, b));
      [params, optState] = optimizer.update(grads, optState, params);
      b++;
      step++;
    }
  }
  return fingerprint(params);
}

function expectAllLeavesDiffer(a: string[], b: string[]): void {
  expect(a.map((leaf) => leaf.split(":")[0])).toEqual(b.map((leaf) => leaf.split(":")[0]));
  const same = a.filter((leaf, i) => leaf === b[i]);
  expect(same).toEqual([]);
}

afterAll(() => {
  setBackend(wasmAvailable() ? "wasm" : "js");
  setWasmThreads(Number(process.env.TAPEGRAD_THREADS) || availableParallelism());
});

describe("the augmented loader", () => {
  it("gives the same batches for the same (seed, epoch), and augments them", () => {
    const first = [...loaderFor(3).epoch(1)] as Tensor[][];
    const again = [...loaderFor(3).epoch(1)] as Tensor[][];
    const other = [...loaderFor(4).epoch(1)] as Tensor[][];
    expect(fingerprint(first)).toEqual(fingerprint(again));
    expectAllLeavesDiffer(
      fingerprint(first.map(([images]) => images)),
      fingerprint(other.map(([images]) => images)),
    );
    // Unaugmented, the same order would give exactly these images back: the crop and flip act.
    const plain = dataLoader(tensorDataset(x, labels), {
      batchSize: BATCH,
      shuffle: true,
      seed: 3,
    });
    const raw = [...plain.epoch(1)] as Tensor[][];
    expectAllLeavesDiffer(
      fingerprint(first.map(([images]) => images)),
      fingerprint(raw.map(([images]) => images)),
    );
  });
});

describe("training on the js backend", () => {
  it("is bit-identical for the same seed, and differs for another seed", () => {
    setBackend("js");
    const a = trainSteps(7);
    expect(trainSteps(7)).toEqual(a);
    expectAllLeavesDiffer(trainSteps(8), a);
  });
});

describe.skipIf(!wasmAvailable())("training on the wasm backend", () => {
  it("is bit-identical for the same seed on one thread, and differs for another seed", () => {
    setBackend("wasm");
    setWasmThreads(1);
    const a = trainSteps(7);
    expect(trainSteps(7)).toEqual(a);
    expect(trainSteps(7)).toEqual(a);
    expectAllLeavesDiffer(trainSteps(8), a);
  });

  // The thread count of each kernel call depends on timing (the pool's measured lag), so the
  // bits must not depend on it: conv2d and its backprops cut the batch into chunks sized by the
  // geometry alone, and the filter gradient adds the chunks' partial sums in chunk order.
  it("is bit-identical for the same seed at any thread count", () => {
    setBackend("wasm");
    setWasmThreads(1);
    const one = trainSteps(7);
    for (const threads of [2, 3, 2]) {
      setWasmThreads(threads);
      expect(trainSteps(7), `${threads} threads`).toEqual(one);
    }
  });
});
