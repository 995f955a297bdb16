import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, treeFlatten } from "@tapegrad/nn";
import type { Tensor } from "@tapegrad/autodiff";
import { train, type TrainOptions } from "../src/train.js";
import { writeFixtureDataset } from "./fixture.js";

const data = writeFixtureDataset(512, 128);
const quiet = () => {};
const base: Omit<TrainOptions, "out" | "epochs"> = {
  model: "lenet",
  batchSize: 64,
  lr: 1e-3,
  optimizer: "adam",
  seed: 5,
  data,
  log: quiet,
};

function bits(tree: unknown): string[] {
  return treeFlatten(tree).map(
    ([path, leaf]) => `${path}:${Buffer.from((leaf as Tensor).data.buffer).toString("hex")}`,
  );
}

describe("train", () => {
  // The second recipe is vit's (src/recipes.ts): augmented batches, AdamW, label smoothing.
  const recipes: Record<string, Partial<TrainOptions>> = {
    plain: {},
    "augmented, AdamW, label smoothing": {
      augment: true,
      optimizer: "adamw",
      weightDecay: 0.05,
      labelSmoothing: 0.1,
    },
  };
  for (const [name, recipe] of Object.entries(recipes)) {
    it(`an interrupted-and-resumed run ends with bit-identical parameters (${name})`, async () => {
      const options = { ...base, ...recipe, epochs: 2 };
      const whole = await train({ ...options, out: mkdtempSync(join(tmpdir(), "whole-")) });

      // A run of `--epochs 2` stopped after its first epoch, then resumed with the same arguments.
      const outFirst = mkdtempSync(join(tmpdir(), "part-"));
      const stop = new AbortController();
      const interrupted = await train({
        ...options,
        out: outFirst,
        signal: stop.signal,
        onEpochEnd: () => stop.abort(),
      });
      expect(interrupted.history).toHaveLength(1);
      const checkpoint = join(outFirst, "checkpoint-epoch-1.safetensors");
      const resumed = await train({ ...options, out: outFirst, resume: checkpoint });

      expect(bits(resumed.params)).toEqual(bits(whole.params));
      expect(resumed.history.map((m) => m.epoch)).toEqual([1, 2]);
      expect(resumed.history[1]!.trainLoss).toBe(whole.history[1]!.trainLoss);
    });
  }

  // Batch norm's running statistics (resnet) are state that the traced step returns.
  for (const model of ["lenet", "resnet"] as const) {
    it(`gives the same bits with its step traced by jit as eagerly (${model})`, async () => {
      const run = (jit: boolean) =>
        train({ ...base, model, epochs: 1, jit, out: mkdtempSync(join(tmpdir(), "jit-")) });
      const [eager, jitted] = [await run(false), await run(true)];
      expect(bits(jitted.params)).toEqual(bits(eager.params));
      expect(bits(jitted.state)).toEqual(bits(eager.state));
      expect(jitted.history[0]!.trainLoss).toBe(eager.history[0]!.trainLoss);
      expect(jitted.history[0]!.testLoss).toBe(eager.history[0]!.testLoss);
    });
  }

  it("augments the training batches when asked (the recipe changes what is learned)", async () => {
    const run = (augment: boolean) =>
      train({ ...base, epochs: 1, augment, out: mkdtempSync(join(tmpdir(), "augment-")) });
    const [plain, augmented] = [await run(false), await run(true)];
    expect(augmented.history[0]!.trainLoss).not.toBe(plain.history[0]!.trainLoss);
    expect(bits(augmented.params)).not.toEqual(bits(plain.params));
  });

  it("learns, and writes metrics, curves, a confusion table and a checkpoint per epoch", async () => {
    const out = mkdtempSync(join(tmpdir(), "outputs-"));
    const result = await train({ ...base, epochs: 2, out, lr: 3e-3 });
    expect(result.testAccuracy).toBeGreaterThan(0.5);

    const lines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);

    const svg = readFileSync(join(out, "curves.svg"), "utf8");
    expect(svg).toMatch(/^<svg [^>]*width="1440" height="300"/);
    expect(svg.match(/<polyline /g)).toHaveLength(3);

    expect(readFileSync(join(out, "confusion.txt"), "utf8")).toMatch(
      /^true \\ predicted +T-shirt\/top/,
    );

    for (const epoch of [1, 2]) {
      const file = join(out, `checkpoint-epoch-${epoch}.safetensors`);
      expect(existsSync(file)).toBe(true);
      const { tree, metadata } = decodeSafetensors(readFileSync(file));
      expect((tree as { epoch: number }).epoch).toBe(epoch);
      expect(metadata.model).toBe("lenet");
    }
  });
});
