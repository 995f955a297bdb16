import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allocate, allocateUninitialized } from "./dtype.js";
import * as t from "./index.js";

/** conv2d (with relu), maxPool2d and matmul outputs over 4 KB, and a vjp, as one checksum. */
function outputsChecksum(api: typeof t): number {
  const rng = api.prng(7);
  const x = rng.normal([4, 3, 16, 16]);
  const w = rng.normal([8, 3, 3, 3]);
  const bias = rng.normal([8]);
  const f = (xv: t.Tensor) => {
    const y = api.maxPool2d(api.conv2d(xv, w, { padding: 1, bias, activation: "relu" }), {
      kernelSize: 2,
    });
    return api.matmul(api.reshape(y, [4, 8 * 8 * 8]), rng.normal([512, 40]));
  };
  const [y, pullback] = api.vjp(f, x);
  const [dx] = pullback(api.onesLike(y));
  let hash = 0;
  for (const array of [y.data, dx!.data]) {
    const bits = new Int32Array(array.buffer, array.byteOffset, array.byteLength / 4);
    for (const b of bits) hash = (Math.imul(hash, 31) + b) | 0;
  }
  return hash;
}

describe("allocateUninitialized", () => {
  it("gives an array of the dtype and length over memory of its own", () => {
    for (const [dtype, type] of [
      ["float32", Float32Array],
      ["float64", Float64Array],
      ["int32", Int32Array],
    ] as const) {
      for (const size of [0, 3, 5000]) {
        const a = allocateUninitialized(dtype, size);
        expect(a).toBeInstanceOf(type);
        expect(a.length).toBe(size);
        expect(a.byteOffset).toBe(0);
        expect(a.buffer.byteLength).toBe(a.byteLength);
      }
    }
  });

  it("is NaN-filled (−1 for int32) in the test suite, so unwritten outputs cannot pass as zeros", () => {
    expect(process.env.TAPEGRAD_POISON_UNINITIALIZED).toBe("1");
    expect(Array.from(allocateUninitialized("float32", 3))).toEqual([NaN, NaN, NaN]);
    expect(Array.from(allocateUninitialized("float64", 2))).toEqual([NaN, NaN]);
    expect(Array.from(allocateUninitialized("int32", 2))).toEqual([-1, -1]);
  });

  it("rejects the sizes allocate rejects, with the same message", () => {
    for (const size of [-1, 1.5, 2 ** 31]) {
      expect(() => allocateUninitialized("float32", size)).toThrow(
        (() => {
          try {
            allocate("float32", size);
          } catch (e) {
            return (e as Error).message;
          }
          return "allocate accepted it";
        })(),
      );
    }
  });
});

describe("outputs allocated without zero-filling", () => {
  it("give the same bits outside the test suite's poison as inside it", () => {
    const index = fileURLToPath(new URL("./index.ts", import.meta.url));
    const script = `const api = await import(${JSON.stringify(index)});
      ${outputsChecksum.toString()}
      console.log(outputsChecksum(api));`;
    const env = { ...process.env, TAPEGRAD_POISON_UNINITIALIZED: "0" };
    const child = execFileSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", script],
      { env, timeout: 60_000, encoding: "utf8" },
    );
    expect(Number(child.trim())).toBe(outputsChecksum(t));
  });
});
