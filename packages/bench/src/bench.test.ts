import { setBackend } from "@tapegrad/autodiff";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jaxPeer } from "./jax.js";
import { Unsupported, failureReason, permute, type Peer } from "./peer.js";
import { compare, disagrees, type Cell } from "./report.js";
import { tapegradPeer } from "./tapegrad.js";
import { tfjsPeer } from "./tfjs.js";
import { timeCell } from "./timing.js";
import type { HessianWorkload, PerExampleWorkload, Workload } from "./workloads.js";

describe("bench helpers", () => {
  it("permute moves axes like a transpose", () => {
    // [2, 3] → [3, 2]
    expect(Array.from(permute([0, 1, 2, 3, 4, 5], [2, 3], [1, 0]))).toEqual([0, 3, 1, 4, 2, 5]);
    // NCHW [1, 2, 1, 2] → NHWC [1, 1, 2, 2]: channels last.
    expect(Array.from(permute([1, 2, 3, 4], [1, 2, 1, 2], [0, 2, 3, 1]))).toEqual([1, 3, 2, 4]);
  });

  it("failureReason names a missing tfjs kernel", () => {
    const error = new Error("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'");
    expect(failureReason(error)).toBe("no Conv2DBackpropFilter kernel");
    expect(failureReason(new Unsupported("why not"))).toBe("why not");
    expect(failureReason(new Error("boom\nstack"))).toBe("failed: boom");
  });

  it("compare and disagrees flag results beyond float32 noise", () => {
    const ref = Float32Array.of(1, -2, 3);
    expect(compare(Float32Array.of(1, -2, 3.000001), ref)).toEqual({
      diff: expect.closeTo(1e-6, 6),
      scale: 3,
    });
    expect(compare(Float32Array.of(1), ref)).toBe("size 1 vs 3");
    const timing = { medianMs: 1, runs: 3, batch: 1 };
    const close: Cell = { ok: true, timing, agreement: { y: { diff: 1e-6, scale: 3 } } };
    const far: Cell = { ok: true, timing, agreement: { y: { diff: 0.1, scale: 3 } } };
    const nan: Cell = { ok: true, timing, agreement: { y: { diff: NaN, scale: 3 } } };
    expect([disagrees(close), disagrees(far), disagrees(nan)]).toEqual([false, true, true]);
  });

  it("timeCell scales a slow cell from a smaller batch", () => {
    // A fake call costing 1 ms per sample: a 64-sample call would take 64 ms, over a 16 ms cap.
    const prepare = (n: number) => ({
      run: () => {
        const end = performance.now() + n;
        while (performance.now() < end);
      },
      dispose: () => {},
    });
    const { timing } = timeCell(prepare, 64, true, 16);
    expect(timing.batch).toBeLessThanOrEqual(16);
    expect(timing.batch).toBeGreaterThanOrEqual(1);
    // Busy-waiting n ms per call, so the scaled median is at least the full batch's 64 ms.
    expect(timing.medianMs).toBeGreaterThanOrEqual(64);
    expect(timeCell(prepare, 4, false, 1).timing.batch).toBe(4);
  });
});

// The baseline rows compute what the transforms compute: the loop of grad gives vmap(grad)'s
// per-example gradients, the loop of hvp gives hessian's matrix.
describe("transform rows agree with their baselines", () => {
  const tapegrad = tapegradPeer("js");
  const pairs: [PerExampleWorkload | HessianWorkload, PerExampleWorkload | HessianWorkload][] = [
    [
      { kind: "perExample", n: 3, method: "vmap" },
      { kind: "perExample", n: 3, method: "loop" },
    ],
    [
      { kind: "hessian", n: 6, method: "hessian" },
      { kind: "hessian", n: 6, method: "hvp loop" },
    ],
  ];
  for (const [transform, baseline] of pairs) {
    it(`${transform.kind}: ${transform.method} = ${baseline.method}`, async () => {
      await tapegrad.activate();
      const expected = Object.values(tapegrad.prepare(transform, 3).outputs())[0]!;
      const actual = Object.values(tapegrad.prepare(baseline, 3).outputs())[0]!;
      const a = compare(actual, expected);
      if (typeof a === "string") throw new Error(a);
      expect(a.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, a.scale));
    });
  }
});

// Every peer's implementation computes what tapegrad computes, in tapegrad's layout, on small
// versions of the bench's workloads (the bench itself checks the full-size ones).
describe("peers agree with tapegrad", () => {
  const small: Workload[] = [
    { kind: "conv", spec: { n: 64, cin: 3, cout: 4, size: 8, k: 3, padding: 1 }, pass: "fwd+bwd" },
    { kind: "conv", spec: { n: 64, cin: 2, cout: 3, size: 7, k: 5, padding: 0 }, pass: "fwd" },
    { kind: "pool", op: "max", n: 64, c: 3, size: 6 },
    { kind: "pool", op: "avg", n: 64, c: 3, size: 6 },
    { kind: "matmul", n: 24 },
    { kind: "lenet", n: 64 },
    { kind: "hessian", n: 6, method: "hessian" },
  ];
  const reference = tapegradPeer("js");
  let peers: Peer[] = [];
  beforeAll(async () => {
    peers = [await tfjsPeer("cpu"), await tfjsPeer("wasm"), await jaxPeer()];
  }, 60_000);
  afterAll(() => setBackend("js"));

  for (const w of small) {
    const n = 2;
    const label = w.kind === "conv" ? `conv ${w.pass}` : w.kind === "pool" ? `${w.op}Pool` : w.kind;
    it(
      label,
      async () => {
        await reference.activate();
        const expected = reference.prepare(w, n).outputs();
        for (const peer of peers) {
          await peer.activate();
          let call;
          try {
            call = peer.prepare(w, n);
          } catch (error) {
            // A transform the peer lacks (tfjs's hessian): the bench shows that reason.
            if (error instanceof Unsupported) continue;
            throw error;
          }
          try {
            const actual = call.outputs();
            for (const [key, ref] of Object.entries(expected)) {
              const a = compare(actual[key], ref);
              if (typeof a === "string") throw new Error(`${peer.name} ${key}: ${a}`);
              // tfjs-backend-wasm's MaxPoolGrad drops windows whose maximum is negative.
              const known = peer.name === "tfjs wasm" && w.kind === "pool" && w.op === "max";
              if (known && key === "dx") continue;
              expect(a.diff, `${peer.name} ${key}`).toBeLessThanOrEqual(
                1e-4 * Math.max(1, a.scale),
              );
            }
          } catch (error) {
            // tfjs's wasm backend has no Conv2DBackpropFilter kernel: the bench shows that reason.
            if (peer.name === "tfjs wasm" && failureReason(error).startsWith("no ")) continue;
            throw error;
          } finally {
            call.dispose();
          }
        }
      },
      60_000,
    );
  }
});
