import { TapegradError, isTensor, tensor, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { encodeSafetensors, loadInto } from "@tapegrad/nn";
import {
  loadCheckpoint,
  loadCheckpointSync,
  saveCheckpoint,
  saveCheckpointSync,
} from "@tapegrad/nn/node";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeSeam } from "../src/node/checkpoint.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tapegrad-checkpoint-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function state(seed: number) {
  const f32 = (n: number, shape: number[]) =>
    tensor(
      Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i) / 3),
      { shape },
    );
  return {
    model: {
      conv1: { weight: f32(2 * 1 * 3 * 3, [2, 1, 3, 3]), bias: f32(2, [2]) },
      layers: [
        { w: tensor(Float64Array.from([Math.PI, -1e-300, seed]), { shape: [3, 1] }) },
        { w: tensor(Float64Array.from([Number.MAX_VALUE]), { shape: [] }) },
      ],
      bn: { count: tensor(new Int32Array([seed, -(2 ** 31), 2 ** 31 - 1])) },
    },
    optimizer: { step: 1000 + seed, lr: 1e-3, momentum: [f32(2, [2])] },
    epoch: seed,
  };
}
const metadata = { format: "tapegrad", commit: "abc123", note: "unicode ✓" };

function expectSameValues(a: unknown, b: unknown) {
  const fa = treeFlatten(a);
  const fb = treeFlatten(b);
  expect(fb.map(([p]) => p)).toEqual(fa.map(([p]) => p));
  fa.forEach(([path, x], i) => {
    const y = fb[i]![1];
    if (isTensor(x)) {
      expect((y as Tensor).dtype, path).toBe(x.dtype);
      expect((y as Tensor).shape, path).toEqual(x.shape);
      expect(Array.from((y as Tensor).data), path).toEqual(Array.from(x.data));
    } else {
      expect(y, path).toBe(x);
    }
  });
}

async function caught(promise: Promise<unknown>): Promise<TapegradError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TapegradError);
    return error as TapegradError;
  }
  throw new Error("expected a rejection");
}

describe("saveCheckpoint / loadCheckpoint", () => {
  it("save → load → save is byte-identical and values round-trip exactly", async () => {
    const path = join(dir, "model.safetensors");
    const original = state(1);
    await saveCheckpoint(path, original, metadata);
    const first = readFileSync(path);
    expect(new Uint8Array(first)).toEqual(encodeSafetensors(original, metadata));

    const loaded = await loadCheckpoint(path);
    expect(loaded.metadata).toEqual(metadata);
    expectSameValues(original, loaded.tree);
    expect(loadInto(original, loaded.tree).optimizer.step).toBe(1001);

    const again = join(dir, "again.safetensors");
    await saveCheckpoint(again, loaded.tree, loaded.metadata);
    expect(readFileSync(again).equals(first)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["again.safetensors", "model.safetensors"]);
  });

  it("has synchronous twins that write the same bytes", () => {
    const path = join(dir, "sync.safetensors");
    saveCheckpointSync(path, state(2), metadata);
    const loaded = loadCheckpointSync(path);
    expectSameValues(state(2), loaded.tree);
    saveCheckpointSync(path, loaded.tree, loaded.metadata);
    expect(new Uint8Array(readFileSync(path))).toEqual(encodeSafetensors(state(2), metadata));
    expect(readdirSync(dir)).toEqual(["sync.safetensors"]);
  });

  it("overwrites an existing checkpoint", async () => {
    const path = join(dir, "ckpt.safetensors");
    await saveCheckpoint(path, state(1));
    await saveCheckpoint(path, state(2));
    expect((await loadCheckpoint(path)).tree).toMatchObject({ epoch: 2 });
    expect(readdirSync(dir)).toEqual(["ckpt.safetensors"]);
  });

  it("reports a missing file or directory as NOT_FOUND", async () => {
    const missing = join(dir, "nope.safetensors");
    const load = await caught(loadCheckpoint(missing));
    expect(load.code).toBe("NOT_FOUND");
    expect(load.message).toBe(`loadCheckpoint: no file at "${missing}"`);
    expect(() => loadCheckpointSync(missing)).toThrow(load.message);

    const save = await caught(saveCheckpoint(join(dir, "sub", "x.safetensors"), state(1)));
    expect(save.code).toBe("NOT_FOUND");
    expect(save.message).toBe(`saveCheckpoint: the directory "${join(dir, "sub")}" does not exist`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("rejects corrupt files with CORRUPT_FILE naming the path, checking the size first", async () => {
    const path = join(dir, "bad.safetensors");
    // 16 bytes claiming a 2^53-byte header: rejected from the first 8 bytes and the file size.
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 53n, true);
    writeFileSync(path, bytes);
    const error = await caught(loadCheckpoint(path));
    expect(error.code).toBe("CORRUPT_FILE");
    expect(error.message).toBe(
      `${path}: safetensors: header length is 9007199254740992 bytes, over the 100000000-byte limit`,
    );
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    writeFileSync(path, bytes);
    expect(() => loadCheckpointSync(path)).toThrow(
      `${path}: safetensors: header length is 1000 bytes but only 8 bytes follow the length field`,
    );
    writeFileSync(path, new Uint8Array(3));
    expect((await caught(loadCheckpoint(path))).message).toBe(
      `${path}: safetensors: file is 3 bytes, too short for the 8-byte header length`,
    );
    // A valid header whose data was cut off.
    const valid = encodeSafetensors(state(1));
    writeFileSync(path, valid.subarray(0, valid.length - 1));
    expect((await caught(loadCheckpoint(path))).code).toBe("CORRUPT_FILE");
  });

  it("refuses to load a directory", async () => {
    const error = await caught(loadCheckpoint(dir));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(`loadCheckpoint: "${dir}" is not a file`);
  });
});

describe("atomic writes", () => {
  const diskFull = () =>
    Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });

  it("a write failing midway leaves the old checkpoint intact and no temp file", async () => {
    const path = join(dir, "model.safetensors");
    await saveCheckpoint(path, state(1), metadata);
    const before = readFileSync(path);
    let temp = "";
    vi.spyOn(writeSeam, "write").mockImplementation(async (handle, bytes) => {
      // Half the bytes reach the temp file, then the disk fills up.
      await handle.write(bytes, 0, bytes.length >> 1);
      temp = readdirSync(dir).find((name) => name.endsWith(".tmp")) ?? "";
      throw diskFull();
    });
    await expect(saveCheckpoint(path, state(2), metadata)).rejects.toThrow("ENOSPC");
    expect(temp).toMatch(/^\.model\.safetensors\.[0-9a-f]{16}\.tmp$/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect((await loadCheckpoint(path)).tree).toMatchObject({ epoch: 1 });
  });

  it("the same holds for saveCheckpointSync", () => {
    const path = join(dir, "model.safetensors");
    saveCheckpointSync(path, state(1));
    const before = readFileSync(path);
    vi.spyOn(writeSeam, "writeSync").mockImplementation((fd, bytes) => {
      writeFileSync(fd, bytes.subarray(0, 10));
      throw diskFull();
    });
    expect(() => saveCheckpointSync(path, state(2))).toThrow("ENOSPC");
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
  });

  it("a failing rename removes the temp file and leaves the target alone", async () => {
    // The target is a non-empty directory, so renaming the finished temp file over it fails.
    const path = join(dir, "taken");
    mkdirSync(path);
    writeFileSync(join(path, "keep.txt"), "x");
    await expect(saveCheckpoint(path, state(1))).rejects.toThrow();
    expect(() => saveCheckpointSync(path, state(1))).toThrow();
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readdirSync(path)).toEqual(["keep.txt"]);
  });

  it("an unsavable tree fails before touching the disk", async () => {
    const path = join(dir, "model.safetensors");
    await expect(saveCheckpoint(path, { a: "text" })).rejects.toThrow(
      'encodeSafetensors: "a" is a string; only tensors and numbers can be saved',
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});
