import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  add,
  conv2d,
  defineOp,
  exp,
  matmul,
  mul,
  sin,
  square,
  sum,
  tanh,
  tensor,
  vjp,
  type Tensor,
  type TensorLike,
} from "./index.js";
import { jvp, linearize } from "./forward.js";
import { isTracing } from "./tape.js";
import { arbitraries } from "./testing/index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr, expectClose, num } from "../test/values.js";

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
