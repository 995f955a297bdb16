import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  exp,
  grad,
  matmul,
  mul,
  sin,
  square,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  type Tensor,
  type TensorLike,
} from "./index.js";
import { hessian, hvp, jvp } from "./forward.js";
import { isTracing } from "./tape.js";
import { f64 } from "../test/helpers.js";
import { arr, expectClose, num } from "../test/values.js";

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
