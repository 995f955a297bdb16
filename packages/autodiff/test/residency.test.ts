import { afterEach, describe, expect, it } from "vitest";
import {
  conv2d,
  grad,
  maxPool2d,
  prng,
  relu,
  reshape,
  setBackend,
  sum,
  mul,
  tensor,
  matmul,
  type Tensor,
} from "../src/index.js";
import { ResidentRing } from "../src/backends/wasm/runtime/residency.js";
import { defaultWasmTuning, wasmTuning } from "../src/backends/wasm/tuning.js";

// The ring is tested on its own with made-up addresses, then through the wasm backend: a CNN's
// gradients must not change with the ring's size (entries overwritten every call, or never),
// and nothing written to an array Tensor.data handed out reaches a kernel.

afterEach(() => {
  wasmTuning.maxRingBytes = defaultWasmTuning.maxRingBytes;
});

describe("the ring of resident outputs", () => {
  const START = 1 << 20;
  const copied = (n: number) => new Float32Array(n);

  it("finds an output's array, and views of it, at the block it was copied out from", () => {
    const ring = new ResidentRing(START);
    ring.beginCall();
    const at = ring.allocate(4096);
    expect(at).toBe(START);
    const y = copied(1024);
    ring.remember(at, y);
    ring.beginCall();
    expect(ring.find(y)).toBe(at);
    expect(ring.find(y.subarray(10, 20))).toBe(at + 40);
    expect(ring.find(copied(1024))).toBe(-1);
  });

  it("forgets an output once later outputs have wrapped over its block", () => {
    wasmTuning.maxRingBytes = 64 * 1024;
    const ring = new ResidentRing(START);
    const arrays: Float32Array[] = [];
    for (let i = 0; i < 5; i++) {
      ring.beginCall();
      const at = ring.allocate(16 * 1024);
      const a = copied(4096);
      ring.remember(at, a);
      arrays.push(a);
    }
    // 5 blocks of 16 KB in 64 KB: the fifth wrapped onto the first's block.
    ring.beginCall();
    expect(ring.find(arrays[0]!)).toBe(-1);
    expect(arrays.slice(1).map((a) => ring.find(a) >= 0)).toEqual([true, true, true, true]);
  });

  it("never puts an output on a block the same call reads", () => {
    wasmTuning.maxRingBytes = 64 * 1024;
    const ring = new ResidentRing(START);
    ring.beginCall();
    const first = copied(4096);
    ring.remember(ring.allocate(16 * 1024), first);
    for (let i = 0; i < 3; i++) ring.remember(ring.allocate(16 * 1024), copied(4096));
    ring.beginCall();
    expect(ring.find(first)).toBe(START);
    // The ring is full: the next output would wrap onto `first`, which this call reads.
    expect(ring.allocate(16 * 1024)).toBe(-1);
  });

  it("starts at 4 MiB and doubles each time a call finds an array written over", () => {
    const ring = new ResidentRing(START);
    const put = () => {
      ring.beginCall();
      const a = copied(256 * 1024);
      ring.remember(ring.allocate(1 << 20), a);
      return a;
    };
    const first = put();
    for (let i = 0; i < 4; i++) put();
    // Five 1 MiB outputs in 4 MiB: the fifth wrapped over the first.
    ring.beginCall();
    expect(ring.find(first)).toBe(-1);
    // Now 8 MiB: seven more (at 1…7 MiB) all stay, where 4 MiB would have wrapped at the fourth.
    const later = Array.from({ length: 7 }, put);
    ring.beginCall();
    expect(later.map((a) => ring.find(a) >= 0)).toEqual(later.map(() => true));
  });

  it("keeps blocks larger than a quarter of the ring out of it", () => {
    wasmTuning.maxRingBytes = 64 * 1024;
    const ring = new ResidentRing(START);
    ring.beginCall();
    expect(ring.allocate(16 * 1024 + 1)).toBe(-1);
  });
});

describe("resident outputs in the wasm backend", () => {
  /** Gradients of a small CNN's loss with respect to its input and weights, on wasm. */
  const gradients = () => {
    setBackend("wasm");
    const rng = prng(4);
    const x = rng.normal([8, 3, 16, 16]);
    const w1 = rng.normal([8, 3, 3, 3]);
    const b1 = rng.normal([8]);
    const w2 = rng.normal([8 * 8 * 8, 10]);
    const loss = (xv: Tensor, w: Tensor, b: Tensor, v: Tensor) => {
      const h = maxPool2d(conv2d(xv, w, { padding: 1, bias: b, activation: "relu" }), {
        kernelSize: 2,
      });
      return sum(mul(relu(matmul(reshape(h, [8, 512]), v)), 0.1));
    };
    return grad(loss, { argnums: [0, 1, 2, 3] })(x, w1, b1, w2).map((g) => Array.from(g.data));
  };

  it("give the same gradients whether outputs stay resident, wrap every call, or never fit", () => {
    const resident = gradients();
    wasmTuning.maxRingBytes = 192 * 1024;
    const wrapping = gradients();
    wasmTuning.maxRingBytes = 0;
    const copied = gradients();
    expect(wrapping).toEqual(resident);
    expect(copied).toEqual(resident);
  });

  it("read an output afresh once later outputs have written over its block", () => {
    setBackend("wasm");
    const rng = prng(8);
    const x = rng.normal([4, 2, 16, 16]);
    const conv = () =>
      conv2d(x, rng.normal([4, 2, 3, 3]), {
        padding: 1,
        bias: rng.normal([4]),
        activation: "relu",
      });
    // Room for four such outputs (16 KB each): the four after `a` wrap over its block.
    wasmTuning.maxRingBytes = 4 * 16 * 1024;
    const a = conv();
    for (let i = 0; i < 4; i++) conv();
    const pooled = maxPool2d(a, { kernelSize: 2 });
    const fresh = maxPool2d(tensor(a.toArray() as number[][][][]), { kernelSize: 2 });
    expect(Array.from(pooled.data)).toEqual(Array.from(fresh.data));
  });

  it("a write to an array from Tensor.data reaches neither the tensor nor its resident copy", () => {
    setBackend("wasm");
    const x = prng(5).normal([4, 2, 16, 16]);
    const bias = prng(7).normal([4]);
    const y = conv2d(x, prng(6).normal([4, 2, 3, 3]), { padding: 1, bias, activation: "relu" });
    // y's buffer is resident after conv2d; pooling it reads the resident copy.
    const before = maxPool2d(y, { kernelSize: 2 });
    const data = y.data as Float32Array;
    data.fill(0);
    data[0] = 1000;
    const after = maxPool2d(y, { kernelSize: 2 });
    expect(Array.from(after.data)).toEqual(Array.from(before.data));
    expect(y.data[0]).not.toBe(1000);
  });
});
