import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cos,
  exp,
  matmul,
  mul,
  reshape,
  sin,
  square,
  sum,
  tanh,
  tensor,
  type Tensor,
} from "./index.js";
import { jacfwd, jacrev } from "./forward.js";
import { arbitraries } from "./testing/index.js";
import { f64 } from "../test/helpers.js";
import { arr, expectClose } from "../test/values.js";

describe("jacrev and jacfwd", () => {
  const A = f64([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const f = (x: Tensor) => exp(matmul(A, x));

  it("a tensor-to-tensor Jacobian has shape out.shape ++ in.shape, and both modes agree", () => {
    const x = f64([0.1, -0.2]);
    const Jr = jacrev(f)(x);
    const Jf = jacfwd(f)(x);
    expect(Jr.shape).toEqual([3, 2]);
    expect(Jf.shape).toEqual([3, 2]);
    // J = diag(exp(Ax))·A.
    const y = f(x);
    const expected = [0, 1, 2].map((i) => [0, 1].map((j) => y.data[i]! * A.data[2 * i + j]!));
    expectClose(Jr, expected, 12);
    expectClose(Jf, expected, 12);
  });

  it("multi-axis shapes: [2,2] → [3,1,2] gives [3,1,2,2,2]", () => {
    const h = (x: Tensor) =>
      reshape(sum(mul(reshape(A, [3, 1, 2]), sin(x)), { axis: 2 }), [3, 1, 2]);
    const x = f64([
      [0.1, 0.2],
      [0.3, 0.4],
    ]);
    const Jr = jacrev(h)(x);
    const Jf = jacfwd(h)(x);
    expect(Jr.shape).toEqual([3, 1, 2, 2, 2]);
    expectClose(Jf, Jr, 12);
  });

  it("trees: out's structure outside, the argument's inside; scalar blocks have the input's shape", () => {
    const f2 = (p: { a: Tensor; b: number }) => ({
      s: mul(sum(square(p.a)), p.b),
      v: [mul(p.a, 2)],
      n: tensor([1], { dtype: "int32" }),
      label: "x",
    });
    const p = { a: f64([1, 2, 3]), b: 0.5 };
    for (const J of [jacrev(f2)(p), jacfwd(f2)(p)]) {
      expect(J.s.a.shape).toEqual([3]);
      expectClose(J.s.a, [1, 2, 3], 12); // 2a·b
      expect(J.s.b.shape).toEqual([]);
      expectClose(J.s.b, 14, 12); // Σ a²
      expect(J.v[0]!.a.shape).toEqual([3, 3]);
      expectClose(J.v[0]!.a, [2, 0, 0, 0, 2, 0, 0, 0, 2], 12);
      expectClose(J.v[0]!.b, [0, 0, 0], 12);
      expect(J.n.a.shape).toEqual([1, 3]);
      expect(arr(J.n.a)).toEqual([[0, 0, 0]]);
      expect(J.label).toBeNull();
    }
  });

  it("argnums: a list of arguments gives a list at each output leaf", () => {
    const g = (a: Tensor, k: Tensor, b: Tensor) => mul(mul(a, b), k);
    const args = [f64([1, 2]), f64(10), f64([3, 4])] as const;
    const Jr = jacrev(g, { argnums: [2, 0] })(...args);
    const Jf = jacfwd(g, { argnums: [2, 0] })(...args);
    for (const [db, da] of [Jr, Jf]) {
      expect(arr(db)).toEqual([
        [10, 0],
        [0, 20],
      ]);
      expect(arr(da)).toEqual([
        [30, 0],
        [0, 40],
      ]);
    }
    expect(() => jacrev(g, { argnums: 3 })(...args)).toThrow(/argnums 3 is out of range/);
  });

  it("random smooth functions: jacrev = jacfwd (property)", () => {
    fc.assert(
      fc.property(arbitraries.anyTensor({ maxRank: 2, maxDim: 3 }, { min: -1, max: 1 }), (x) => {
        const h = (z: Tensor) => mul(tanh(z), sum(cos(z)));
        expectClose(jacfwd(h)(x), jacrev(h)(x), 12);
      }),
      { numRuns: 20 },
    );
  });
});
