import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { slice, type Tensor } from "@tapegrad/autodiff";
import { MODEL_NAMES, makeModel } from "../src/models.js";
import { loadSplit, train } from "../src/train.js";
import { writeFixtureDataset } from "./fixture.js";

// `pnpm train --export-onnx` writes model.onnx beside each checkpoint: ONNX Runtime must give
// the logits tapegrad gives in eval mode, batch norm's running statistics included, at any
// batch size.

const data = writeFixtureDataset(128, 64);
const TOLERANCE = 1e-4;

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i]! - b[i]!));
  return most;
}

describe("ONNX export of the trained models, run by ONNX Runtime", () => {
  for (const name of MODEL_NAMES) {
    it(`${name}: model.onnx reproduces tapegrad's eval-mode logits`, async () => {
      const out = mkdtempSync(join(tmpdir(), `onnx-${name}-`));
      const trained = await train({
        model: name,
        epochs: 1,
        batchSize: 32,
        lr: 1e-3,
        optimizer: "adam",
        seed: 3,
        data,
        out,
        exportOnnx: true,
        log: () => {},
      });
      const session = await ort.InferenceSession.create(readFileSync(join(out, "model.onnx")));
      expect(session.inputNames).toEqual(["input"]);
      expect(session.outputNames).toEqual(["output"]);
      const { x } = await loadSplit("test", data);
      const model = makeModel(name);
      const differences: number[] = [];
      for (const n of [1, 16]) {
        const images = slice(x, [0], [n]) as Tensor;
        const expected = model.apply(trained.params, images, { state: trained.state });
        const input = new ort.Tensor("float32", images.data as Float32Array, [...images.shape]);
        const { output } = await session.run({ input });
        expect(output!.dims).toEqual([n, 10]);
        differences.push(maxAbsDifference(output!.data as Float32Array, expected.data));
      }
      console.log(`${name}: ONNX Runtime vs tapegrad, max |Δlogit| ${Math.max(...differences)}`);
      for (const d of differences) expect(d).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
