import { renameSync, rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { TapegradError } from "@tapegrad/autodiff";
import { fashionMnist, mnist } from "../src/node/mnist.js";
import { fixturePixel, tempDir as makeTempDir, writeMnistFixture } from "./fixtures.js";

const made: string[] = [];
const tempDir = () => {
  const dir = makeTempDir();
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The message of the NOT_FOUND error `promise` rejects with. */
async function notFound(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TapegradError && error.code === "NOT_FOUND") return error.message;
    throw error;
  }
  throw new Error("expected a NOT_FOUND error");
}

/** Runs `fn` with TAPEGRAD_DATA set to `value` (or unset), restoring it afterwards. */
async function withDataEnv<R>(value: string | undefined, fn: () => Promise<R>): Promise<R> {
  const saved = process.env["TAPEGRAD_DATA"];
  if (value === undefined) delete process.env["TAPEGRAD_DATA"];
  else process.env["TAPEGRAD_DATA"] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env["TAPEGRAD_DATA"];
    else process.env["TAPEGRAD_DATA"] = saved;
  }
}

describe("fashionMnist and mnist on self-made IDX files", () => {
  it("loads float32 images [N,1,28,28] in [0,1] and int32 labels, gzip or raw", async () => {
    for (const gzip of [true, false]) {
      const dir = tempDir();
      writeMnistFixture(dir, 12, { gzip });
      for (const split of ["train", "test"] as const) {
        const { images, labels } = await fashionMnist({ split, dir });
        expect(images.shape).toEqual([12, 1, 28, 28]);
        expect(images.dtype).toBe("float32");
        expect(labels.shape).toEqual([12]);
        expect(labels.dtype).toBe("int32");
        expect(Array.from(labels.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        expect(images.data[(5 * 28 + 3) * 28 + 17]).toBe(Math.fround(fixturePixel(5, 3, 17) / 255));
      }
    }
  });

  it("finds the files through TAPEGRAD_DATA", async () => {
    const dir = tempDir();
    writeMnistFixture(dir, 3, { h: 4, w: 5 });
    const { images } = await withDataEnv(dir, () => mnist({ split: "test" }));
    expect(images.shape).toEqual([3, 1, 4, 5]);
  });

  it("says where it looked and how to get the data", async () => {
    const dir = tempDir();
    const message = await notFound(fashionMnist({ split: "train", dir }));
    expect(message).toBe(
      [
        `Fashion-MNIST train files not found. Looked for:`,
        `  ${dir}/train-images-idx3-ubyte.gz`,
        `  ${dir}/train-images-idx3-ubyte`,
        `  ${dir}/train-labels-idx1-ubyte.gz`,
        `  ${dir}/train-labels-idx1-ubyte`,
        `To get the data:`,
        `  - apt-get install dataset-fashion-mnist (installs into /usr/share/datasets/fashion-mnist)`,
        `  - download the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ` +
          `t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into a directory DIR and pass ` +
          `--data DIR (examples) or { dir: DIR }, or set TAPEGRAD_DATA=DIR`,
      ].join("\n"),
    );
  });

  it("says so when there was nowhere to look", async () => {
    const message = await withDataEnv(undefined, () => notFound(mnist({ split: "test" })));
    expect(message).toMatch(
      /^MNIST test files not found\. There was no directory to look in\.\n\(No directory was given and TAPEGRAD_DATA is not set\.\)\nTo get the data:\n {2}- download/,
    );
  });

  it("rejects files whose images and labels disagree", async () => {
    const dir = tempDir();
    writeMnistFixture(dir, 4, { gzip: false });
    const other = tempDir();
    writeMnistFixture(other, 5, { gzip: false });
    rmSync(`${dir}/train-labels-idx1-ubyte`);
    renameSync(`${other}/train-labels-idx1-ubyte`, `${dir}/train-labels-idx1-ubyte`);
    await expect(fashionMnist({ split: "train", dir })).rejects.toThrow(
      `${dir}/train-labels-idx1-ubyte: holds 5 labels but ${dir}/train-images-idx3-ubyte holds 4 images`,
    );
  });
});
