import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  div,
  exp,
  grad,
  greater,
  mul,
  ones,
  sigmoid,
  sign,
  sin,
  square,
  stopGradient,
  sub,
  sum,
  tensor,
  valueAndGrad,
  vjp,
  zeros,
  type Tensor,
} from "./index.js";
import { f64 } from "../test/helpers.js";
import { arr, expectClose, num } from "../test/values.js";

describe("fan-out accumulates", () => {
  it("mul(x, x) has gradient 2x", () => {
    expectClose(grad((x: Tensor) => sum(mul(x, x)))(f64([1, -2, 3])), [2, -4, 6]);
  });

  it("x used in three branches sums all three contributions", () => {
    const f = (x: Tensor) => add(add(sin(x), square(x)), mul(3, x));
    const x = 0.7;
    expect(num(grad(f)(f64(x)))).toBeCloseTo(Math.cos(x) + 2 * x + 3, 12);
  });

  it("an intermediate used several times accumulates too (diamond)", () => {
    // y = x², z = y·y + y → dz/dx = (2y + 1)·2x.
    const f = (x: Tensor) => {
      const y = square(x);
      return add(mul(y, y), y);
    };
    const x = 1.5;
    expect(num(grad(f)(f64(x)))).toBeCloseTo((2 * x * x + 1) * 2 * x, 12);
  });

  it("the same output listed twice in vjp's result gets both cotangents", () => {
    const [, pullback] = vjp(
      (x: Tensor) => {
        const y = mul(x, 2);
        return [y, y];
      },
      f64([1, 1]),
    );
    const [g] = pullback([f64([1, 0]), f64([10, 1])]);
    expect(arr(g)).toEqual([22, 2]);
  });

  it("the same tensor in two argument slots gets two independent gradients", () => {
    const x = f64(3);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => mul(a, mul(b, b)), { argnums: [0, 1] })(x, x);
    expect(num(ga)).toBe(9);
    expect(num(gb)).toBe(18);
  });
});

describe("unused inputs", () => {
  it("get zero gradients of their own shape and dtype", () => {
    const x = f64([1, 2]);
    const y = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const [gx, gy] = grad((a: Tensor, _b: Tensor) => sum(a), { argnums: [0, 1] })(x, y);
    expect(arr(gx)).toEqual([1, 1]);
    expect((gy as Tensor).shape).toEqual([2, 3]);
    expect((gy as Tensor).dtype).toBe("float32");
    expect(arr(gy)).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  it("a leaf of a params tree the loss ignores gets zeros", () => {
    const g = grad((p: { used: Tensor; unused: Tensor }) => sum(p.used))({
      used: f64([1]),
      unused: zeros([2, 2]),
    });
    expect(arr(g.unused)).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("a function that returns a constant has zero gradient everywhere", () => {
    const [value, g] = valueAndGrad((_x: Tensor) => f64(5))(f64([1, 2]));
    expect(num(value)).toBe(5);
    expect(arr(g)).toEqual([0, 0]);
    expect(grad((_x: number) => 3)(2)).toBe(0);
  });

  it("an input that reaches the output only through int32 or non-differentiable ops gets zeros", () => {
    const x = f64([-1, 2]);
    expect(arr(grad((v: Tensor) => sum(cast(greater(v, 0), "float64")))(x))).toEqual([0, 0]);
    expect(arr(grad((v: Tensor) => sum(cast(cast(v, "int32"), "float64")))(x))).toEqual([0, 0]);
    // sign has no vjp: it acts as a constant, so d/dx [sign(x)·x] = sign(x).
    expect(arr(grad((v: Tensor) => sum(mul(sign(v), v)))(x))).toEqual([-1, 1]);
  });
});

describe("long chains", () => {
  it("a 10,000-op chain differentiates without stack overflow", () => {
    const n = 10_000;
    const f = (x: Tensor) => {
      let y: Tensor = x;
      for (let i = 0; i < n / 2; i++) y = mul(add(y, 1e-4), 1.0001);
      return y;
    };
    const [value, g] = valueAndGrad(f)(f64(1));
    // y_{k+1} = (y_k + a)·b: dy_n/dx = b^(n/2).
    expect(num(g)).toBeCloseTo(1.0001 ** (n / 2), 8);
    expect(Number.isFinite(num(value))).toBe(true);
  });

  it("a 10,000-op chain of additions sums to 1", () => {
    const f = (x: Tensor) => {
      let y: Tensor = x;
      for (let i = 0; i < 10_000; i++) y = add(y, 1e-4);
      return sum(y);
    };
    expect(arr(grad(f)(f64([1, 2])))).toEqual([1, 1]);
  });
});

describe("values recorded on the tape", () => {
  it("cannot be changed by writing to an array from Tensor.data", () => {
    // sin keeps x for its vjp (dy·cos x), sigmoid keeps its output y (dy·y·(1 − y)).
    const f = (x: Tensor) => {
      const y = sigmoid(sin(x));
      x.data.fill(7);
      y.data.fill(0.5);
      return sum(y);
    };
    const x = f64([0.3, -1.2]);
    const [value, g] = valueAndGrad(f)(x);
    const expected = [0.3, -1.2].map((v) => {
      const s = 1 / (1 + Math.exp(-Math.sin(v)));
      return s * (1 - s) * Math.cos(v);
    });
    const [g0, g1] = (g as Tensor).toArray() as number[];
    expect(g0).toBeCloseTo(expected[0]!, 14);
    expect(g1).toBeCloseTo(expected[1]!, 14);
    expect(value.item()).toBeCloseTo(
      [0.3, -1.2].reduce((t, v) => t + 1 / (1 + Math.exp(-Math.sin(v))), 0),
      14,
    );
    expect(x.toArray()).toEqual([0.3, -1.2]);
  });
});

describe("stopGradient", () => {
  it("blocks the gradient flowing through its argument", () => {
    expect(num(grad((x: Tensor) => mul(x, stopGradient(x)))(f64(3)))).toBe(3);
    expect(num(grad((x: Tensor) => stopGradient(square(x)))(f64(3)))).toBe(0);
  });

  it("keeps the value", () => {
    const [value] = valueAndGrad((x: Tensor) => add(stopGradient(square(x)), x))(f64(3));
    expect(num(value)).toBe(12);
  });

  it("blocks every level of nesting", () => {
    const g2 = grad(grad((x: Tensor) => mul(square(x), stopGradient(x))));
    // Inner: d/dx [x²·c] = 2x·c with c = x held constant at both levels → outer: d/dx [2x·c] = 2c.
    expect(num(g2(f64(3)))).toBe(6);
  });
});

describe("leaked tensors", () => {
  it("a tensor leaked out of a finished grad is a constant later", () => {
    let leaked!: Tensor;
    grad((x: Tensor) => {
      leaked = mul(x, 3);
      return sum(leaked);
    })(f64([1, 2]));
    expect(arr(leaked)).toEqual([3, 6]);
    // Used beside a new traced input: its own history is not followed.
    expect(arr(grad((z: Tensor) => sum(mul(z, leaked)))(f64([1, 1])))).toEqual([3, 6]);
    // Used alone: nothing flows.
    const [value, g] = valueAndGrad((z: Tensor) => add(sum(mul(leaked, leaked)), mul(z, 0)))(
      f64(1),
    );
    expect(num(value)).toBe(45);
    expect(num(g)).toBe(0);
    // Passed as an argument: differentiated as a fresh input.
    expect(arr(grad((t: Tensor) => sum(square(t)))(leaked))).toEqual([6, 12]);
    // Outside any transform it behaves like a plain tensor.
    expect(arr(add(leaked, 1))).toEqual([4, 7]);
  });

  it("a tensor leaked from an inner grad keeps its dependence on an outer, still-running grad", () => {
    // d/dx Σ (x·y0) with the product computed inside an inner grad and read after it returned.
    const g = grad((x: Tensor) => {
      let inner!: Tensor;
      grad((y: Tensor) => {
        inner = mul(x, y);
        return sum(inner);
      })(f64([5, 7]));
      return sum(inner);
    })(f64([1, 1]));
    expect(arr(g)).toEqual([5, 7]);
  });

  it("a tensor leaked out of vjp is a constant later, while its pullback still works", () => {
    let leaked!: Tensor;
    const [, pullback] = vjp((x: Tensor) => {
      leaked = exp(x);
      return leaked;
    }, f64(0));
    expect(num(grad((z: Tensor) => mul(z, leaked))(f64(4)))).toBe(1);
    expect(num(pullback(f64(2))[0])).toBe(2);
  });
});

describe("ones/zeros used in traced code are constants", () => {
  it("a constant built inside f does not receive a gradient", () => {
    expect(arr(grad((x: Tensor) => sum(mul(x, ones([2], "float64"))))(f64([3, 4])))).toEqual([
      1, 1,
    ]);
  });

  it("sub and div chains", () => {
    expect(num(grad((x: Tensor) => div(sub(x, 1), x))(f64(2)))).toBeCloseTo(1 / 4, 14);
  });
});
