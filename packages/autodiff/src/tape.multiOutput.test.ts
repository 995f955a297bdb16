import { describe, expect, it } from "vitest";
import {
  add,
  cos,
  defineOp,
  detectAnomaly,
  getOp,
  grad,
  hvp,
  jvp,
  mul,
  sin,
  sub,
  sum,
  tensor,
  vjp,
  type Tensor,
} from "./index.js";
import { checkOpGradients } from "./testing/index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

// Ops with several outputs: forward returns a tuple, the vjp gets one cotangent per output
// (zeros for an output nobody used), and the tape keeps cotangents per (node, output).

/** The cotangents each call of `spy`'s vjp received, in call order. */
const seen: Tensor[][] = [];

// [sin x, cos x], recording the cotangents its vjp is handed.
const spy = defineOp({
  name: "multiOutputTest_sinCos",
  inputs: ["x"],
  outputs: ["sin", "cos"],
  forward: ([x]) => [sin(x), cos(x)],
  vjp: ({ dy, y: [sinX, cosX] }) => {
    seen.push([...dy]);
    return [sub(mul(dy[0], cosX), mul(dy[1], sinX))];
  },
});

// [x + y, x · y, an int32 count of the positive elements of x]: two inputs, a non-float output.
const sumProduct = defineOp({
  name: "multiOutputTest_sumProduct",
  inputs: ["x", "y"],
  outputs: ["sum", "product", "positives"],
  forward: ([x, y]) => [
    add(x, y),
    mul(x, y),
    tensor(x.data.filter((v) => v > 0).length, { dtype: "int32" }),
  ],
  vjp: ({ dy: [dsum, dproduct], inputs: [x, y] }) => [
    add(dsum, mul(dproduct, y)),
    add(dsum, mul(dproduct, x)),
  ],
});

const x = f64([0.5, -1, 2]);

describe("ops with several outputs", () => {
  it("return a tuple of tensors, in the declared order", () => {
    const [s, c] = spy(x);
    expect(arr(s)).toEqual([0.5, -1, 2].map(Math.sin));
    expect(arr(c)).toEqual([0.5, -1, 2].map(Math.cos));
    const [total, product, positives] = sumProduct(x, f64([1, 2, 3]));
    expect(arr(total)).toEqual([1.5, 1, 5]);
    expect(arr(product)).toEqual([0.5, -2, 6]);
    expect(positives.dtype).toBe("int32");
    expect(positives.item()).toBe(2);
  });

  it("the vjp gets zeros for an output nobody used", () => {
    seen.length = 0;
    const g = grad((x: Tensor) => sum(spy(x)[1]))(x);
    expect(arr(g)).toEqual([0.5, -1, 2].map((v) => -Math.sin(v)));
    expect(seen).toHaveLength(1);
    expect(arr(seen[0]![0])).toEqual([0, 0, 0]);
    expect(seen[0]![0]!.dtype).toBe("float64");
    expect(arr(seen[0]![1])).toEqual([1, 1, 1]);
  });

  it("cotangents are kept per output and summed over every use of each", () => {
    seen.length = 0;
    // 2·sin + 3·sin + cos²: dsin = 5, dcos = 2 cos x, in one vjp call.
    const g = grad((x: Tensor) => {
      const [s, c] = spy(x);
      return sum(add(add(mul(s, 2), mul(s, 3)), mul(c, c)));
    })(x);
    expect(seen).toHaveLength(1);
    expect(arr(seen[0]![0])).toEqual([5, 5, 5]);
    expect(arr(seen[0]![1])).toEqual([0.5, -1, 2].map((v) => 2 * Math.cos(v)));
    const expected = [0.5, -1, 2].map((v) => 5 * Math.cos(v) - 2 * Math.cos(v) * Math.sin(v));
    (arr(g) as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
  });

  it("a vjp of the tuple takes one cotangent per output", () => {
    const [ys, pullback] = vjp((x: Tensor) => spy(x), x);
    expect(ys).toHaveLength(2);
    const [g] = pullback([f64([1, 0, 0]), f64([0, 1, 0])]);
    // dx = dsin·cos x − dcos·sin x, element by element.
    expect(arr(g)).toEqual([
      1 * Math.cos(0.5) - 0 * Math.sin(0.5),
      0 * Math.cos(-1) - 1 * Math.sin(-1),
      0 * Math.cos(2) - 0 * Math.sin(2),
    ]);
  });

  it("an int32 output is a constant: the float outputs still carry gradients", () => {
    const [dx, dy] = grad(
      (x: Tensor, y: Tensor) => {
        const [total, product, positives] = sumProduct(x, y);
        return sum(add(add(total, product), positives));
      },
      { argnums: [0, 1] },
    )(x, f64([1, 2, 3]));
    expect(arr(dx)).toEqual([2, 3, 4]);
    expect(arr(dy)).toEqual([1.5, 0, 3]);
  });

  it("differentiate to second order, and in forward mode", () => {
    // d²/dx² Σ sin·cos = d/dx Σ cos 2x = −2 sin 2x (a diagonal Hessian).
    const f = (x: Tensor) => {
      const [s, c] = spy(x);
      return sum(mul(s, c));
    };
    const [h] = hvp(f, [x], [f64([1, 1, 1])]);
    (arr(h) as number[]).forEach((v, i) =>
      expect(v).toBeCloseTo(-2 * Math.sin(2 * [0.5, -1, 2][i]!), 12),
    );
    const [, [ts, tc]] = jvp((x: Tensor) => spy(x), [x], [f64([1, 2, 3])]);
    expect(arr(ts)).toEqual([1 * Math.cos(0.5), 2 * Math.cos(-1), 3 * Math.cos(2)]);
    expect(arr(tc)).toEqual([-1 * Math.sin(0.5), -2 * Math.sin(-1), -3 * Math.sin(2)]);
  });

  it("anomaly mode names the output that is not finite", () => {
    const reciprocal = defineOp({
      name: "multiOutputTest_reciprocal",
      inputs: ["x"],
      outputs: ["x", "inverse"],
      forward: ([x]) => [
        x,
        tensor(
          x.data.map((v) => 1 / v),
          { dtype: x.dtype },
        ),
      ],
    });
    const e2 = caught(() => detectAnomaly(() => reciprocal(f64([1, 0]))));
    expect(e2.message).toMatch(
      /^multiOutputTest_reciprocal \(forward\) produced .* in its output inverse/,
    );
  });
});

describe("defineOp checks the outputs", () => {
  it("rejects an empty or repeated list of output names", () => {
    for (const outputs of [[], ["a", "a"]]) {
      const e = caught(() =>
        defineOp({
          name: `multiOutputTest_bad${outputs.length}`,
          inputs: ["x"],
          outputs: outputs as unknown as readonly ["a"],
          forward: ([x]) => x,
        }),
      );
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.message).toMatch(/outputs must be a non-empty list of distinct names/);
    }
  });

  it("a forward that returns the wrong number of outputs is an error naming the op", () => {
    const short = defineOp({
      name: "multiOutputTest_short",
      inputs: ["x"],
      outputs: ["a", "b"],
      forward: ([x]) => [x] as unknown as [Tensor, Tensor],
    });
    const e = caught(() => short(f64([1])));
    expect(e.message).toBe(
      "multiOutputTest_short: forward must return 2 tensors (a, b), got 1 values",
    );
  });
});

describe("the property suite checks each output", () => {
  it("a rule wrong for one output fails, and the report names that output", () => {
    const wrongSign = defineOp({
      name: "multiOutputTest_wrongSign",
      inputs: ["x"],
      outputs: ["sin", "cos"],
      forward: ([x]) => [sin(x), cos(x)],
      // cos′ = −sin: the second term's sign is wrong.
      vjp: ({ dy: [dsin, dcos], y: [sinX, cosX] }) => [add(mul(dsin, cosX), mul(dcos, sinX))],
      samples: (kit) => kit.anyTensor().map((x) => ({ inputs: [x], attrs: {} })),
    });
    const e = caught(() => checkOpGradients(getOp(wrongSign.definition.name)!, { numRuns: 10 }));
    expect(e.code).toBe("GRADIENT_MISMATCH");
    expect(e.message).toMatch(/^multiOutputTest_wrongSign: the gradient check failed/);
    expect(e.message).toMatch(/multiOutputTest_wrongSign \(output cos\): /);
    expect(e.message).not.toMatch(/\(output sin\)/);
  });
});
