import { describe, expect, it } from "vitest";
import {
  NonFiniteError,
  TapegradError,
  defineOp,
  detectAnomaly,
  div,
  exp,
  grad,
  isDetectingAnomaly,
  log,
  logSoftmax,
  mul,
  relu,
  softmax,
  sqrt,
  sub,
  sum,
  tensor,
  vjp,
  type Tensor,
} from "../src/index.js";

const THIS_FILE = "anomaly.test.ts";

/** The NonFiniteError `fn` throws (fails the test if it throws something else or nothing). */
function anomalyOf(fn: () => unknown): NonFiniteError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as TapegradError).code).toBe("NON_FINITE");
    return error as NonFiniteError;
  }
  throw new Error("expected a NonFiniteError, got none");
}

// A custom op whose vjp divides 0 by 0: its forward is fine, its gradient is NaN.
const brokenSquare = defineOp({
  name: "anomalyTestBrokenSquare",
  inputs: ["x"],
  forward: ([x]) => mul(x, x),
  vjp: ({ dy, inputs: [x] }) => {
    const zero = sub(x, x);
    return [mul(dy, div(zero, zero))];
  },
});

describe("detectAnomaly pinpoints the op that first makes a non-finite value", () => {
  it("forward: log of a negative number", () => {
    const x = tensor([1, -2, 3]);
    const error = anomalyOf(() => detectAnomaly(() => sum(log(mul(x, 2)))));
    expect(error.op).toBe("log");
    expect(error.phase).toBe("forward");
    expect(error.inputShapes).toEqual([[3]]);
    expect(error.message).toContain("log (forward)");
    expect(error.message).toContain("NaN at [1]");
    expect(error.message).toContain("x: float32[3]");
    expect(error.site.split("\n")[0]).toContain(THIS_FILE);
    expect(error.message).toContain(THIS_FILE);
  });

  it("backward: 0/0 inside a custom op's vjp", () => {
    const x = tensor([[1, 2]]);
    const f = (v: Tensor) => sum(brokenSquare(v));
    const error = anomalyOf(() => grad(f, { detectAnomaly: true })(x));
    expect(error.op).toBe("anomalyTestBrokenSquare");
    expect(error.phase).toBe("backward");
    expect(error.input).toBe("x");
    expect(error.inputShapes).toEqual([[1, 2]]);
    expect(error.message).toContain("anomalyTestBrokenSquare (backward)");
    expect(error.message).toContain("gradient of input x float32[1,2]");
    expect(error.message).toContain("x: float32[1,2]");
    // The site is where the test applied the op (inside f), not where backward ran.
    expect(error.site.split("\n")[0]).toContain(THIS_FILE);
  });

  it("forward: exp overflows float32", () => {
    const x = tensor([[0, 1000]], { dtype: "float32" });
    const error = anomalyOf(() => grad((v: Tensor) => sum(exp(v)), { detectAnomaly: true })(x));
    expect(error.op).toBe("exp");
    expect(error.phase).toBe("forward");
    expect(error.inputShapes).toEqual([[1, 2]]);
    expect(error.message).toContain("exp (forward)");
    expect(error.message).toContain("Infinity at [0,1]");
    expect(error.message).toContain("x: float32[1,2]");
    expect(error.site).toContain(THIS_FILE);
  });

  it("forward: softmax of a row masked entirely with −Infinity makes NaN, and is named", () => {
    const x = tensor([
      [0, -Infinity, 1],
      [-Infinity, -Infinity, -Infinity],
    ]);
    // Such a row has no distribution: NaN, as in PyTorch and JAX.
    const y = softmax(x).toArray() as number[][];
    expect(y[1]!.every(Number.isNaN)).toBe(true);
    expect(y[0]![1]).toBe(0);
    const error = anomalyOf(() => detectAnomaly(() => sum(softmax(x))));
    expect(error.op).toBe("softmax");
    expect(error.phase).toBe("forward");
    expect(error.message).toContain(
      "softmax (forward) produced NaN at [1,0] in its output float32[2,3] from NaN-free inputs " +
        "x: float32[2,3] (x holds -Infinity at [0,1])",
    );
    expect(error.site.split("\n")[0]).toContain(THIS_FILE);
    // Masking with −Infinity is fine while every row keeps a finite entry.
    expect(() => detectAnomaly(() => logSoftmax(tensor([[0, -Infinity]])))).not.toThrow();
  });

  it("backward: a gradient NaN made from an infinite input is named", () => {
    // d(x·w)/dw = x: with x = Infinity and dy = 0 from the relu below, 0·Infinity = NaN.
    const x = tensor([Infinity, 1]);
    const f = (w: Tensor) => sum(relu(mul(mul(x, w), -1)));
    const error = anomalyOf(() => grad(f, { detectAnomaly: true })(tensor([1, 1])));
    expect(error.op).toBe("mul");
    expect(error.phase).toBe("backward");
    expect(error.message).toContain("from NaN-free dy");
  });

  it("does not blame ops that only propagate a non-finite input", () => {
    const x = tensor([Number.NaN, 1]);
    // mul and exp see a NaN input: nothing to report, and the NaN flows through.
    const y = detectAnomaly(() => exp(mul(x, 2)));
    expect(Number.isNaN(y.data[0])).toBe(true);
    // In backward, a vjp given a non-finite dy is not blamed either.
    const [, pullback] = vjp((v: Tensor) => exp(mul(v, 2)), tensor([1, 2]));
    const [dx] = detectAnomaly(() => pullback(tensor([Number.POSITIVE_INFINITY, 1])));
    expect((dx as Tensor).data[0]).toBe(Number.POSITIVE_INFINITY);
    // sqrt's vjp dy/(2y) at y = 0 is the first to make Infinity; mul, upstream, is not reached.
    const error = anomalyOf(() =>
      grad((v: Tensor) => sum(sqrt(mul(v, 3))), { detectAnomaly: true })(tensor([0, 2])),
    );
    expect(error.op).toBe("sqrt");
    expect(error.phase).toBe("backward");
  });

  it("is off by default, restores the previous mode after a throw, and nests", () => {
    expect(isDetectingAnomaly()).toBe(false);
    expect(Number.isNaN(log(tensor([-1])).data[0])).toBe(true);
    expect(() => detectAnomaly(() => log(tensor([-1])))).toThrow(NonFiniteError);
    expect(isDetectingAnomaly()).toBe(false);
    detectAnomaly(() => {
      detectAnomaly(() => expect(isDetectingAnomaly()).toBe(true));
      expect(isDetectingAnomaly()).toBe(true);
    });
    expect(isDetectingAnomaly()).toBe(false);
  });

  it("checks a vjp pullback run inside detectAnomaly", () => {
    const [, pullback] = vjp((v: Tensor) => brokenSquare(v), tensor([3]));
    expect(Number.isNaN((pullback(tensor([1]))[0] as Tensor).data[0])).toBe(true);
    const error = anomalyOf(() => detectAnomaly(() => pullback(tensor([1]))));
    expect(error.phase).toBe("backward");
    // Recorded outside anomaly mode: no site was captured, and the message says nothing of it.
    expect(error.site).toBe("");
  });

  it("leaves finite computations and their gradients unchanged", () => {
    const f = (v: Tensor) => sum(mul(log(v), exp(v)));
    const x = tensor([0.5, 1, 2], { dtype: "float64" });
    const plain = grad(f)(x);
    const checked = grad(f, { detectAnomaly: true })(x);
    expect(Array.from(checked.data)).toEqual(Array.from(plain.data));
  });

  it("rejects a non-boolean option", () => {
    expect(() => grad((v: Tensor) => sum(v), { detectAnomaly: 1 as unknown as boolean })).toThrow(
      TapegradError,
    );
  });
});
