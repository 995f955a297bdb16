import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalize } from "../src/transforms/pixel.js";
import { FASHION_MNIST_SYSTEM_DIR, fashionMnist } from "../src/node/mnist.js";
import type { Tensor } from "@tapegrad/autodiff";

// Runs wherever Debian's dataset-fashion-mnist is installed. In CI (CI set) it always runs, so
// a missing package fails loudly instead of skipping; elsewhere a missing package skips.
const present = existsSync(FASHION_MNIST_SYSTEM_DIR);
const suite = present || process.env["CI"] ? describe : describe.skip;

function classCounts(labels: Tensor): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of labels.data) counts[label]! += 1;
  return counts;
}

function range(x: Tensor): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

suite(`the real Fashion-MNIST in ${FASHION_MNIST_SYSTEM_DIR}`, () => {
  it("has 60,000 train images, 6,000 per class, and normalises them", async () => {
    const start = performance.now();
    const { images, labels } = await fashionMnist({
      split: "train",
      dir: FASHION_MNIST_SYSTEM_DIR,
    });
    const loaded = performance.now();
    // Fashion-MNIST's training-set pixel mean and standard deviation.
    const standardised = normalize(0.286, 0.353)(images);
    const done = performance.now();
    console.log(
      `Fashion-MNIST train: load ${(loaded - start).toFixed(0)} ms, ` +
        `normalise ${(done - loaded).toFixed(0)} ms, total ${(done - start).toFixed(0)} ms`,
    );
    expect(images.shape).toEqual([60000, 1, 28, 28]);
    expect(images.dtype).toBe("float32");
    expect(labels.shape).toEqual([60000]);
    expect(labels.dtype).toBe("int32");
    expect(classCounts(labels)).toEqual(new Array(10).fill(6000));
    // The well-known first labels: ankle boot, T-shirt/top, T-shirt/top, dress, …
    expect(Array.from(labels.data.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(range(images)).toEqual([0, 1]);
    expect(standardised.shape).toEqual([60000, 1, 28, 28]);
    const [lo, hi] = range(standardised);
    expect(lo).toBeCloseTo(-0.286 / 0.353, 5);
    expect(hi).toBeCloseTo(0.714 / 0.353, 5);
  });

  it("has 10,000 test images, 1,000 per class", async () => {
    const { images, labels } = await fashionMnist({ split: "test", dir: FASHION_MNIST_SYSTEM_DIR });
    expect(images.shape).toEqual([10000, 1, 28, 28]);
    expect(classCounts(labels)).toEqual(new Array(10).fill(1000));
    // The first test image is an ankle boot (class 9), as in every Fashion-MNIST viewer.
    expect(labels.data[0]).toBe(9);
  });
});
