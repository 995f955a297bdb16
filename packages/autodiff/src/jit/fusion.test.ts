import { afterEach, describe, expect, it } from "vitest";
import {
  add,
  cast,
  exp,
  grad,
  jit,
  jitTuning,
  matmul,
  mul,
  neg,
  prng,
  relu,
  sub,
  sum,
  tanh,
  type Tensor,
} from "../index.js";
import { expectSameBits } from "../../test/helpers.js";

const rng = prng(5);
const draw = (shape: number[]) => rng.normal(shape);

/** The fused program's lines that are fused passes, as `outputs = fused[ops] inputs`. */
function fusedLines(f: (...xs: Tensor[]) => unknown, ...xs: Tensor[]): string[] {
  const listing = jit(f)
    .trace(...xs)
    .toString({ fused: true });
  return listing
    .split("\n")
    .filter((line) => line.includes("= fused["))
    .map((line) => line.trim());
}

/** jit(f) against f, bit for bit, on the traced call and three replays with new values. */
function expectEagerBits(f: (...xs: Tensor[]) => Tensor | Tensor[], shapes: number[][]): void {
  const jitted = jit(f);
  for (let call = 0; call < 4; call++) {
    const xs = shapes.map(draw);
    const got = [jitted(...xs)].flat();
    const want = [f(...xs)].flat();
    want.forEach((w, k) => expectSameBits(got[k]!, w, `call ${call}, output ${k}`));
  }
}

afterEach(() => {
  jitTuning.fuse = true;
  jitTuning.maxFusedElements = 256;
});

describe("jit fusion", () => {
  it("fuses a chain into one pass that writes only what is read outside it", () => {
    const f = (x: Tensor, y: Tensor) => sub(mul(exp(x), y), x);
    expect(fusedLines(f, draw([4, 5]), draw([4, 5]))).toEqual([
      "e:f32[4,5] = fused[exp,mul,sub] a b",
    ]);
    expectEagerBits(f, [
      [4, 5],
      [4, 5],
    ]);
  });

  it("writes a chain's value that a later op reads too (a bias add kept for relu's gradient)", () => {
    const f = (x: Tensor, w: Tensor, b: Tensor) => {
      const pre = add(matmul(x, w), b);
      return [sum(relu(pre)), mul(pre, 2)];
    };
    const lines = fusedLines(f, draw([3, 4]), draw([4, 5]), draw([5]));
    expect(lines[0]).toBe("f:f32[3,5] e:f32[3,5] = fused[add,relu] d c");
    expectEagerBits(f as (...xs: Tensor[]) => Tensor[], [[3, 4], [4, 5], [5]]);
  });

  it("ends a chain where an op outside it reads one of its values before the chain's end", () => {
    // s is read by sum between relu and the mul that ends the chain: s must exist by then, so
    // tanh runs on its own and the chain starts at relu.
    const f = (x: Tensor) => {
      const s = tanh(x);
      const r = relu(s);
      const total = sum(s);
      return mul(r, total);
    };
    expect(fusedLines(f, draw([6]))).toEqual(["e:f32[6] = fused[relu,mul] b d"]);
    expectEagerBits(f, [[6]]);
  });

  it("broadcasts every input to the chain's shape, as the ops do", () => {
    const f = (a: Tensor, b: Tensor, c: Tensor, d: Tensor) => neg(mul(add(a, b), sub(c, d)));
    const shapes = [[2, 3, 4], [3, 1], [1, 3, 1], []];
    expect(fusedLines(f, ...shapes.map(draw))).toHaveLength(1);
    expectEagerBits(f, shapes);
    const rows = [[4, 1], [7], [4, 7], [1, 1]];
    expectEagerBits(f, rows);
  });

  it("rounds each op's value to its own dtype, as its forward does", () => {
    // float64 arithmetic cast to float32 and back: a pass that kept float64 throughout would
    // differ in the last bits.
    const f = (x: Tensor, y: Tensor) =>
      cast(mul(cast(exp(cast(x, "float64")), "float32"), y), "float64");
    expect(fusedLines(f, draw([5]), draw([5]))[0]).toMatch(/= fused\[cast,exp,cast,mul,cast\]/);
    expectEagerBits(f, [[5], [5]]);
  });

  it("leaves chains larger than maxFusedElements, and every chain under a transform, op by op", () => {
    const f = (x: Tensor) => relu(add(x, 1));
    expect(fusedLines(f, draw([300]))).toEqual([]);
    jitTuning.maxFusedElements = 1000;
    expect(fusedLines(f, draw([300]))).toHaveLength(1);
    // grad of the jitted function replays the program under grad: its ops are recorded one by
    // one, and the gradient is eager's.
    const loss = jit((x: Tensor) => sum(mul(exp(x), x)));
    const x = draw([4]);
    for (let call = 0; call < 3; call++) {
      expectSameBits(grad(loss)(x), grad((v: Tensor) => sum(mul(exp(v), v)))(x));
    }
  });
});
