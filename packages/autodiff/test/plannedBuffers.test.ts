import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  conv2d,
  getBackend,
  jit,
  matmul,
  maxPool2d,
  prng,
  relu,
  reshape,
  setBackend,
  sum,
  valueAndGrad,
  wasmVariant,
  type Tensor,
} from "../src/index.js";
import { WasmRuntime } from "../src/backends/wasm/runtime/wasmRuntime.js";
import { defaultWasmTuning, wasmTuning } from "../src/backends/wasm/tuning.js";
import { expectSameBits } from "./helpers.js";

// On the wasm backend a jitted replay's intermediates live in the kernels' own (shared) memory:
// kernels read them and write them in place instead of copying them in and out.

const rng = prng(3);
type Params = { w: Tensor; v: Tensor };
const loss = (p: Params, x: Tensor) => {
  const h = maxPool2d(relu(conv2d(x, p.w, { padding: 1 })), { kernelSize: 2 });
  return sum(relu(matmul(reshape(h, [h.shape[0]!, -1]), p.v)));
};
const step = valueAndGrad(loss);
const argsOf = (): [Params, Tensor] => [
  { w: rng.normal([8, 3, 3, 3]), v: rng.normal([8 * 6 * 6, 10]) },
  rng.normal([16, 3, 12, 12]),
];

/**
 * Bytes of the tensors that kernels read (WasmRuntime.input) from outside the wasm memory while
 * `f` runs, other than `args`'.
 */
function intermediatesReadFromOutside(f: () => void, args: readonly Tensor[] = []): number {
  const input = WasmRuntime.prototype.input;
  const argumentMemory = new Set(args.map((t) => t.buffer.buffer));
  let bytes = 0;
  WasmRuntime.prototype.input = function (this: WasmRuntime, data) {
    if (!this.owns(data) && !argumentMemory.has(data.buffer)) bytes += data.byteLength;
    return input.call(this, data);
  };
  try {
    f();
  } finally {
    WasmRuntime.prototype.input = input;
  }
  return bytes;
}

describe("jit's planned buffers on the wasm backend", () => {
  const original = getBackend();
  beforeEach(() => {
    setBackend("wasm");
    wasmTuning.minProductWork = 0;
  });
  afterEach(() => {
    setBackend(original);
    Object.assign(wasmTuning, defaultWasmTuning);
  });

  it("live in the kernels' shared memory: a replay's kernels read no intermediate from outside it", () => {
    expect(wasmVariant()).toMatch(/^(relaxed|shared)$/);
    const jitted = jit(step);
    for (let call = 0; call < 3; call++) jitted(...argsOf());
    const args = argsOf();
    const [p, x] = args;
    let got: unknown;
    expect(intermediatesReadFromOutside(() => (got = jitted(p, x)), [p.w, p.v, x])).toBe(0);
    const [value, grads] = got as [Tensor, Params];
    const [wantValue, wantGrads] = step(...args);
    expectSameBits(value, wantValue);
    expectSameBits(grads.w, wantGrads.w);
    expectSameBits(grads.v, wantGrads.v);
    // Eagerly every intermediate is an array in the JavaScript heap.
    const [q, y] = argsOf();
    expect(intermediatesReadFromOutside(() => step(q, y), [q.w, q.v, y])).toBeGreaterThan(50_000);
  });
});
