import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeIdx } from "@tapegrad/data";

/**
 * Writes a tiny Fashion-MNIST look-alike (IDX files) into a fresh temporary directory: each class
 * is a bright horizontal band at its own height plus noise, so a CNN can learn it in a few steps.
 */
export function writeFixtureDataset(trainCount: number, testCount: number, seed = 1): string {
  const dir = mkdtempSync(join(tmpdir(), "tapegrad-train-"));
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const write = (prefix: string, count: number) => {
    const images = new Uint8Array(count * 28 * 28);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const label = Math.floor(random() * 10);
      labels[i] = label;
      for (let p = 0; p < 28 * 28; p++) {
        const row = Math.floor(p / 28);
        const band = row >= 2 + label * 2 && row < 4 + label * 2;
        images[i * 784 + p] = Math.floor((band ? 180 : 0) + random() * 60);
      }
    }
    writeFileSync(
      join(dir, `${prefix}-images-idx3-ubyte`),
      writeIdx({ dtype: "uint8", shape: [count, 28, 28], data: images }),
    );
    writeFileSync(
      join(dir, `${prefix}-labels-idx1-ubyte`),
      writeIdx({ dtype: "uint8", shape: [count], data: labels }),
    );
  };
  write("train", trainCount);
  write("t10k", testCount);
  return dir;
}
