import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Tensor,
  TapegradError,
  add,
  cast,
  conv2d,
  cos,
  defineOp,
  exp,
  grad,
  matmul,
  mul,
  reshape,
  sin,
  square,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  vjp,
  type TensorLike,
} from "./index.js";
import { hessian, hvp, jacfwd, jacrev, jvp, linearize } from "./forward.js";
import { isTracing } from "./tape.js";
import { arbitraries } from "./testing/index.js";
import { caught } from "../test/helpers.js";

const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });
const arr = (t: unknown) => (t as Tensor).toArray();
const num = (t: unknown) => (t as Tensor).item();

function expectClose(actual: unknown, expected: unknown, digits = 10): void {
  const a = actual instanceof Tensor ? Array.from(actual.data) : [actual as number];
  const e =
    expected instanceof Tensor ? Array.from(expected.data) : ([expected].flat(4) as number[]);
  expect(a.length).toBe(e.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, digits));
}

/** Picks x[i] of a 1-D tensor with a one-hot dot product (differentiable). */
const pick = (x: Tensor, i: number) => sum(mul(x, f64(x.shape.length ? onehot(x.size, i) : 1)));
const onehot = (n: number, i: number) => Array.from({ length: n }, (_, j) => (j === i ? 1 : 0));

// f(x) = x0²·x1 + x1²·x2 + sin(x2): H = [[2x1, 2x0, 0], [2x0, 2x2, 2x1], [0, 2x1, −sin x2]].
const cubic = (x: Tensor) => {
  const [x0, x1, x2] = [pick(x, 0), pick(x, 1), pick(x, 2)];
  return add(add(mul(square(x0), x1), mul(square(x1), x2)), sin(x2));
};
const cubicHessian = ([a, b, c]: number[]) => [
  [2 * b!, 2 * a!, 0],
  [2 * a!, 2 * c!, 2 * b!],
  [0, 2 * b!, -Math.sin(c!)],
];

describe("jvp", () => {
  it("elementwise: the tangent is f'(x)·v", () => {
    const [y, t] = jvp(sin, [f64([0.3, -1.2, 2])], [f64([1, 2, -0.5])]);
    expectClose(y, [Math.sin(0.3), Math.sin(-1.2), Math.sin(2)], 14);
    expectClose(t, [Math.cos(0.3), 2 * Math.cos(-1.2), -0.5 * Math.cos(2)], 14);
  });

  it("a linear map's jvp is the map applied to the tangent", () => {
    const A = f64([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const [, t] = jvp((x: Tensor) => matmul(A, x), [f64([7, 8])], [f64([1, -1])]);
    expect(arr(t)).toEqual([-1, -1, -1]);
  });

  it("several arguments: tangents add up (J₁v₁ + J₂v₂)", () => {
    const [y, t] = jvp(
      (a: Tensor, b: Tensor) => mul(a, exp(b)),
      [f64([2, 3]), f64([0.5, -0.5])],
      [f64([1, 0]), f64([0, 1])],
    );
    expectClose(y, [2 * Math.exp(0.5), 3 * Math.exp(-0.5)], 12);
    expectClose(t, [Math.exp(0.5), 3 * Math.exp(-0.5)], 12);
  });

  it("trees in and out; the tangent has the output's structure, leaf shapes and dtypes", () => {
    const params = {
      w: f64([[0.5, -1]]),
      b: tensor([0.25]),
      steps: tensor([3], { dtype: "int32" }),
    };
    const f = (p: typeof params, x: Tensor) => ({
      y: add(matmul(p.w, x), p.b),
      extra: [tanh(p.b), p.steps],
      label: "kept",
    });
    const tangents = {
      w: f64([[1, 0]]),
      b: tensor([2]),
      steps: tensor([0], { dtype: "int32" }),
    };
    const x = f64([3, 4]);
    const [out, t] = jvp(f, [params, x], [tangents, f64([0, 1])]);
    expect(Object.keys(t)).toEqual(["y", "extra", "label"]);
    // dy = dw·x + w·dx + db = 3 + (−1) + 2.
    expectClose(t.y, [4], 6);
    expect(t.y.dtype).toBe("float64");
    // tanh of a float32 input: the tangent stays float32.
    expect(t.extra[0]!.dtype).toBe("float32");
    expectClose(t.extra[0], [2 * (1 - Math.tanh(0.25) ** 2)], 6);
    // int32 outputs have zero tangents of their own dtype; non-tensor leaves pass through.
    expect(t.extra[1]!.dtype).toBe("int32");
    expect(arr(t.extra[1])).toEqual([0]);
    expect(t.label).toBeNull();
    expect(out.label).toBe("kept");
  });

  it("number primals take number tangents", () => {
    const [y, t] = jvp((x: TensorLike, k: TensorLike) => mul(x, add(x, k)), [3, 1], [1, 0]);
    expect(num(y)).toBe(12);
    expect(num(t)).toBe(7);
  });

  it("a function that ignores its input has a zero tangent; a constant output too", () => {
    const [, t] = jvp((x: Tensor) => ({ c: f64([1, 2]), n: 5, x2: mul(x, 0) }), [f64(1)], [f64(1)]);
    expect(arr(t.c)).toEqual([0, 0]);
    expect(t.n).toBe(0);
    expect(num(t.x2)).toBe(0);
  });

  it("the identity's tangent is the tangent itself", () => {
    const v = f64([0.1, 0.2]);
    expect(arr(jvp((x: Tensor) => x, [f64([1, 2])], [v])[1])).toEqual([0.1, 0.2]);
  });

  it("forward and reverse mode describe the same Jacobian: ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩ (property)", () => {
    const f = (a: Tensor, b: Tensor) => mul(tanh(a), add(square(b), sin(a)));
    fc.assert(
      fc.property(
        arbitraries
          .broadcastPair()
          .chain(([sa, sb]) =>
            fc.tuple(
              arbitraries.tensor(sa),
              arbitraries.tensor(sb),
              arbitraries.tensor(sa),
              arbitraries.tensor(sb),
            ),
          ),
        ([a, b, va, vb]) => {
          const [y, t] = jvp(f, [a, b], [va, vb]);
          const c = sin(add(y, 1)); // any cotangent of y's shape
          const [da, db] = vjp(f, a, b)[1](c);
          const lhs = num(sum(mul(t, c)));
          const rhs = num(add(sum(mul(da, va)), sum(mul(db, vb))));
          expect(lhs).toBeCloseTo(rhs, 9);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("is linear in the tangent", () => {
    const [, lin] = linearize((x: Tensor) => exp(sin(x)), f64([0.2, 0.9]));
    const u = f64([1, 2]);
    const v = f64([-3, 0.5]);
    expectClose(lin(add(mul(u, 2), v)), add(mul(lin(u), 2), lin(v)), 12);
  });

  it("works through conv2d (its vjp rules are transposed, not re-derived)", () => {
    const x = tensor(
      Array.from({ length: 16 }, (_, i) => Math.sin(i)),
      {
        shape: [1, 1, 4, 4],
        dtype: "float64",
      },
    );
    const w = tensor([0.5, -1, 0.25, 2], { shape: [1, 1, 2, 2], dtype: "float64" });
    const dw = tensor([1, 0, 0, -1], { shape: [1, 1, 2, 2], dtype: "float64" });
    // conv2d is linear in w: its tangent along dw is conv2d(x, dw).
    const [, t] = jvp((ww: Tensor) => conv2d(x, ww), [w], [dw]);
    expectClose(t, conv2d(x, dw), 12);
  });

  it("a user-defined op gets forward mode from its vjp alone", () => {
    const cube = defineOp({
      name: "forwardTest_cube",
      inputs: ["x"],
      forward: ([x]) => {
        return tensor(
          x.data.map((v) => v ** 3),
          { shape: x.shape },
        );
      },
      vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(3, square(x)))],
    });
    const [y, t] = jvp((x: Tensor) => cube(x), [f64([2, -1])], [f64([1, 0.5])]);
    expect(arr(y)).toEqual([8, -1]);
    expect(arr(t)).toEqual([12, 1.5]);
  });

  it("rejects tangents of the wrong shape, kind or count", () => {
    expect(caught(() => jvp(sin, [f64([1, 2])], [f64([1, 2, 3])])).message).toBe(
      "jvp: the tangent of argument 0 must be a tensor of its primal's shape [2], got shape [3]",
    );
    const e = caught(() => jvp((p: { w: Tensor }) => p.w, [{ w: f64([1]) }], [{ w: 1 as never }]));
    expect(e.code).toBe("SHAPE_MISMATCH");
    expect(e.message).toMatch(/argument 0 \("w"\) must be a tensor .* got number/);
    expect(caught(() => jvp(sin, [f64(1)], [] as never)).message).toMatch(
      /got 0 tangents for 1 primals/,
    );
    expect(caught(() => jvp((x: number) => x, [1], ["a" as never])).message).toMatch(
      /\(a number\) must be a number, got string/,
    );
    expect(isTracing()).toBe(false);
  });
});

describe("forward mode nests with reverse mode and with itself", () => {
  it("jvp of jvp: the second directional derivative", () => {
    const d1 = (x: Tensor) => jvp(sin, [x], [f64(1)])[1];
    expectClose(jvp(d1, [f64(0.5)], [f64(1)])[1], -Math.sin(0.5), 14);
    const d2 = (x: Tensor) => jvp(d1, [x], [f64(1)])[1];
    expectClose(jvp(d2, [f64(0.5)], [f64(1)])[1], -Math.cos(0.5), 14);
  });

  it("grad of a jvp (reverse-over-forward)", () => {
    const g = grad((x: Tensor) => sum(jvp(sin, [x], [f64([1, 2])])[1]))(f64([0.3, 1.2]));
    expectClose(g, [-Math.sin(0.3), -2 * Math.sin(1.2)], 14);
  });

  it("jvp of grad (forward-over-reverse) is a Hessian-vector product", () => {
    const x = f64([1, 2, 3]);
    const v = f64([0.5, -1, 2]);
    const H = cubicHessian([1, 2, 3]);
    const expected = H.map((row) => row.reduce((s, h, j) => s + h * [0.5, -1, 2][j]!, 0));
    expectClose(jvp(grad(cubic), [x], [v])[1], expected, 12);
  });

  it("the tangent may depend on an outer grad's variable", () => {
    // d/ds ⟨∂/∂x sin(x) along s·v⟩ = cos(x)·v.
    const g = grad((s: Tensor) => sum(jvp(sin, [f64([0.4, 1])], [mul(s, f64([1, 3]))])[1]))(f64(2));
    expectClose(g, Math.cos(0.4) + 3 * Math.cos(1), 14);
  });

  it("perturbation confusion: d/dx [x · (d/dy (x + y))] = 1 with the inner derivative by jvp", () => {
    const inner = (x: Tensor) => jvp((y: Tensor) => add(x, y), [f64(1)], [f64(1)])[1];
    expect(num(grad((x: Tensor) => mul(x, inner(x)))(f64(3)))).toBe(1);
    // And forward over forward.
    const outer = jvp((x: Tensor) => mul(x, inner(x)), [f64(3)], [f64(1)])[1];
    expect(num(outer)).toBe(1);
  });

  it("perturbation confusion: a captured tensor is constant to the inner jvp unless passed in", () => {
    // d/dx [ d/dy (x·y) at y = x ] = d/dx x = 1, while d/dx [ d/dy y² at y = x ] = 2.
    const captured = (x: Tensor) => jvp((y: Tensor) => mul(x, y), [x], [f64(1)])[1];
    const passed = (x: Tensor) => jvp((y: Tensor) => mul(y, y), [x], [f64(1)])[1];
    expect(num(grad(captured)(f64(5)))).toBe(1);
    expect(num(grad(passed)(f64(5)))).toBe(2);
    expect(num(jvp(captured, [f64(5)], [f64(1)])[1])).toBe(1);
  });

  it("leaves no trace open", () => {
    jvp(grad(cubic), [f64([1, 2, 3])], [f64([1, 0, 0])]);
    hessian(cubic)(f64([1, 2, 3]));
    expect(isTracing()).toBe(false);
  });
});

describe("hvp", () => {
  it("matches the closed-form Hessian times v", () => {
    const x = [0.5, -1.5, 2];
    const v = [1, 2, -0.5];
    const H = cubicHessian(x);
    const [hv] = hvp(cubic, [f64(x)], [f64(v)]);
    expectClose(
      hv,
      H.map((row) => row.reduce((s, h, j) => s + h * v[j]!, 0)),
      12,
    );
  });

  it("agrees with reverse-over-reverse ∇⟨∇f, v⟩", () => {
    const f = (x: Tensor) => sum(mul(exp(mul(x, 0.5)), tanh(x)));
    const x = f64([0.3, -0.7, 1.1, 0.05]);
    const v = f64([1, -2, 0.5, 3]);
    const reverse = grad((z: Tensor) => sum(mul(grad(f)(z), v)))(x);
    expectClose(hvp(f, [x], [v])[0], reverse, 12);
  });

  it("trees and several arguments: one result per primal, in its structure", () => {
    // f(p, s) = s·Σ w² + s²·b: ∂²f/∂w² = 2s·I, ∂²f/∂w∂s = 2w, ∂²f/∂b∂s = 2s, ∂²f/∂s² = 2b.
    // Inside f a number argument is a float64 scalar tensor, as under grad.
    const f = (p: { w: Tensor; b: Tensor }, s: TensorLike) =>
      add(mul(s, sum(square(p.w))), mul(mul(s, s), sum(p.b)));
    const p = { w: f64([1, 2]), b: f64(0.5) };
    const [hp, hs] = hvp(f, [p, 3], [{ w: f64([1, 0]), b: f64(0) }, 1]);
    // (H v)_w = 2s·v_w + 2w·v_s = [6, 0] + [2, 4]; (H v)_b = 2s·v_s = 6; (H v)_s = 2w·v_w + 2b·v_s.
    expect(arr(hp.w)).toEqual([8, 4]);
    expect(num(hp.b)).toBe(6);
    expect(hs).toBe(2 + 1);
  });
});

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

describe("hessian", () => {
  it("matches the closed form, with shape x.shape ++ x.shape", () => {
    const x = [0.5, -1.5, 2];
    const H = hessian(cubic)(f64(x));
    expect(H.shape).toEqual([3, 3]);
    expectClose(H, cubicHessian(x), 12);
  });

  it("of a function of a matrix: [2,2] → [2,2,2,2], symmetric", () => {
    const f = (x: Tensor) => sum(exp(matmul(x, x)));
    const H = hessian(f)(
      f64([
        [0.1, 0.2],
        [-0.3, 0.4],
      ]),
    );
    expect(H.shape).toEqual([2, 2, 2, 2]);
    const h = H.data;
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) expect(h[i * 4 + j]).toBeCloseTo(h[j * 4 + i]!, 12);
  });

  it("of a tree: entry [p][q] has shape p.shape ++ q.shape", () => {
    const f = (p: { w: Tensor; b: Tensor }) => sum(mul(square(p.w), p.b));
    const H = hessian(f)({ w: f64([1, 2]), b: f64(3) });
    expect(H.w.w.shape).toEqual([2, 2]);
    expect(H.w.b.shape).toEqual([2]);
    expect(H.b.w.shape).toEqual([2]);
    expect(H.b.b.shape).toEqual([]);
    expectClose(H.w.w, [6, 0, 0, 6], 12); // 2b·I
    expectClose(H.w.b, [2, 4], 12); // 2w
    expectClose(H.b.w, [2, 4], 12);
    expectClose(H.b.b, 0, 12);
  });

  it("is what grad of grad gives, element by element", () => {
    const x = f64([0.5, -1.5, 2]);
    const H = hessian(cubic)(x);
    [0, 1, 2].forEach((i) => {
      const row = grad((z: Tensor) => pick(grad(cubic)(z), i))(x);
      expectClose(f64(Array.from(H.data.slice(3 * i, 3 * i + 3))), row, 12);
    });
  });

  it("works under valueAndGrad: the gradient of a Hessian's trace", () => {
    // tr H of Σ x³ is Σ 6x, whose gradient is 6 everywhere.
    const trace = (x: Tensor) =>
      sum(
        mul(
          hessian((z: Tensor) => sum(mul(square(z), z)))(x),
          f64([
            [1, 0],
            [0, 1],
          ]),
        ),
      );
    const [value, g] = valueAndGrad(trace)(f64([1, 2]));
    expect(num(value)).toBeCloseTo(18, 12);
    expectClose(g, [6, 6], 12);
  });

  it("float32 inputs keep float32 blocks", () => {
    const H = hessian((x: Tensor) => sum(square(x)))(tensor([1, 2]));
    expect(H.dtype).toBe("float32");
    expect(arr(cast(H, "float64"))).toEqual([
      [2, 0],
      [0, 2],
    ]);
  });
});
