import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  add,
  cast,
  defineOp,
  div,
  exp,
  getOp,
  mul,
  reshape,
  sin,
  square,
  stopGradient,
  sum,
  tanh,
  tensor,
  transpose,
  type Tensor,
} from "../index.js";
import {
  GradientMismatchError,
  arbitraries,
  checkGrads,
  checkOpGradients,
  differentiableOps,
} from "./index.js";
import { caught } from "../../test/helpers.js";

const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });

function cubeForward(x: Tensor): Tensor {
  return tensor(
    x.data.map((v) => v ** 3),
    { shape: x.shape, dtype: x.dtype },
  );
}

// x³ with a deliberately wrong vjp: 2·dy instead of 3x²·dy. It agrees with the truth only where
// 3x² = 2, i.e. x = ±√(2/3), which lets a test place the first wrong element where it likes.
const brokenCube = defineOp({
  name: "checkGradsTest_brokenCube",
  inputs: ["x"],
  forward: ([x]) => cubeForward(x),
  vjp: ({ dy }) => [mul(dy, 2)],
  samples: (kit) =>
    kit.anyTensor({ minRank: 1 }, { min: 1, max: 2 }).map((x) => ({ inputs: [x], attrs: {} })),
});

const goodCube = defineOp({
  name: "checkGradsTest_goodCube",
  inputs: ["x"],
  forward: ([x]) => cubeForward(x),
  vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(3, square(x)))],
  samples: (kit) => kit.anyTensor().map((x) => ({ inputs: [x], attrs: {} })),
});

// A two-input op whose vjp forgets to reduce the broadcast gradient of b: wrong shape, not value.
const brokenBroadcast = defineOp({
  name: "checkGradsTest_brokenBroadcast",
  inputs: ["a", "b"],
  forward: ([a, b]) => mul(a, b),
  vjp: ({ dy, inputs: [a, b] }) => [mul(dy, b), mul(dy, a)],
  samples: (kit) =>
    kit.fc
      .tuple(kit.tensor([2, 3]), kit.tensor([3]))
      .map(([a, b]) => ({ inputs: [a, b], attrs: {} })),
});

describe("checkGrads passes on correct functions", () => {
  it("a scalar function of one tensor, reporting what it checked", () => {
    const report = checkGrads((x: Tensor) => sum(mul(sin(x), x)), [f64([0.1, -0.5, 2])]);
    expect(report.checked).toBe(3);
    expect(report.maxAbsError).toBeLessThan(1e-6);
  });

  it("non-scalar outputs (projected on a random cotangent) and several arguments", () => {
    const report = checkGrads(
      (a: Tensor, b: Tensor) => div(exp(mul(a, b)), add(square(b), 1)),
      [
        f64([
          [0.5, -1],
          [0.25, 0.1],
        ]),
        f64([0.3, -0.7]),
      ],
    );
    expect(report.checked).toBe(6);
  });

  it("trees of arguments and tree outputs", () => {
    const params = {
      layers: [
        {
          w: f64([
            [0.1, 0.2],
            [0.3, 0.4],
          ]),
          b: f64([0.01, -0.02]),
        },
      ],
      scale: f64(1.5),
    };
    const x = f64([1, -1]);
    const report = checkGrads(
      (p: typeof params, input: Tensor) => {
        const h = tanh(add(sum(mul(p.layers[0]!.w, input), { axis: 1 }), p.layers[0]!.b));
        return { out: mul(h, p.scale), extra: [sum(square(h))] };
      },
      [params, x],
    );
    expect(report.checked).toBe(4 + 2 + 1 + 2);
  });

  it("promotes float32 arguments to float64 and skips int32 and number leaves", () => {
    const report = checkGrads(
      (p: { w: Tensor; idx: Tensor; k: number }) =>
        mul(square(p.w), add(cast(p.idx, "float64"), p.k)),
      [{ w: tensor([0.5, 1.5]), idx: tensor([1, 2], { dtype: "int32" }), k: 2 }],
    );
    expect(report.checked).toBe(2);
  });

  it("does not modify the caller's arguments", () => {
    const x = f64([0.3, 0.6]);
    const y = tensor([1, 2]);
    checkGrads((a: Tensor, b: Tensor) => mul(a, b), [x, y]);
    expect(Array.from(x.data)).toEqual([0.3, 0.6]);
    expect(Array.from(y.data)).toEqual([1, 2]);
  });

  it("shape ops whose results share their input's buffer are checked correctly", () => {
    checkGrads(
      (x: Tensor) => mul(reshape(x, [3, 2]), transpose(reshape(x, [2, 3]))),
      [f64([1, 2, 3, 4, 5, 6])],
    );
  });

  it("a correct custom op passes", () => {
    checkGrads(
      (x: Tensor) => goodCube(x),
      [
        f64([
          [0.5, -1.2],
          [2, 0.1],
        ]),
      ],
    );
  });

  it("random smooth functions of random tensors pass (property)", () => {
    fc.assert(
      fc.property(
        arbitraries.anyTensor({ maxRank: 3 }, { min: -1.5, max: 1.5 }),
        fc.integer({ min: 0, max: 1000 }),
        (x, seed) => {
          checkGrads((v: Tensor) => mul(tanh(square(v)), sin(v)), [x], { seed });
        },
      ),
      { numRuns: 25 },
    );
  });
});

/** The GradientMismatchError `fn` throws. */
function mismatch(fn: () => unknown): GradientMismatchError {
  const e = caught(fn);
  expect(e).toBeInstanceOf(GradientMismatchError);
  expect(e.code).toBe("GRADIENT_MISMATCH");
  return e as GradientMismatchError;
}

describe("checkGrads detects wrong gradients", () => {
  it("names the element by path and multi-index, with the true derivatives and their errors", () => {
    const params = { layer: { w: f64([Math.sqrt(2 / 3), 2, 1]) }, b: f64(0.5) };
    const e = mismatch(() =>
      checkGrads((p: typeof params) => add(sum(brokenCube(p.layer.w)), p.b), [params]),
    );
    // Element 0 matches by construction; element 1 is the first wrong one. A scalar output is
    // not projected: the values compared are ∂out/∂w[1] themselves, 2 against 3·2² = 12.
    expect(e.message.split("\n")[0]).toBe(
      "checkGrads: reverse-mode gradient (vjp) disagrees with finite differences at " +
        "args[0].layer.w[1] (args[0].layer.w has shape [3])",
    );
    expect(e.message).toContain("∂out/∂args[0].layer.w[1]: analytic 2, numeric 12 ");
    expect(e.message).toContain("(abs error 10, rel error 0.833333)");
    expect(e.message).toContain("pass { seed: 0 } to replay");
    expect(e).toMatchObject({ kind: "rev", input: "args[0].layer.w", index: [1], output: "out" });
    expect(e.analytic).toBe(2);
    expect(e.numeric).toBeCloseTo(12, 6);
    expect(e.relError).toBeCloseTo(10 / 12, 6);
  });

  it("names arguments by argnames and the check by name", () => {
    const e = mismatch(() =>
      checkGrads(
        (a: Tensor, b: Tensor) => mul(sum(a), sum(brokenCube(b))),
        [
          f64([1]),
          f64([
            [1, 1],
            [Math.sqrt(2 / 3), 3],
          ]),
        ],
        { name: "myModel", argnames: ["scale", "x"] },
      ),
    );
    expect(e.message).toMatch(/^myModel: reverse-mode gradient \(vjp\) disagrees .* at x\[0,0\] /);
    expect(e.message).toContain("(x has shape [2,2])");
    expect(e.input).toBe("x");
    expect(e.index).toEqual([0, 0]);
  });

  it("a projected output: the true partial derivatives are recovered, whatever the seed", () => {
    // brokenCube's vjp gives 2 where the truth is 3x² = 6.75 at x = 1.5; the output is projected
    // on a cotangent of random signs, but the message reports ∂out[0]/∂x[0] itself.
    for (const seed of [0, 1, 2, 3, 4]) {
      const e = mismatch(() => checkGrads((x: Tensor) => brokenCube(x), [f64([1.5, 2])], { seed }));
      expect(e.message).toContain("∂out[0]/∂args[0][0]: analytic 2, numeric 6.75 ");
      expect(e.message).toContain("for a cotangent c of random ±1 entries");
      expect(e.output).toBe("out[0]");
      expect(e.analytic).toBe(2);
      expect(e.numeric).toBeCloseTo(6.75, 6);
      expect(e.seed).toBe(seed);
    }
  });

  it("a wrong derivative is caught at the same size for every seed", () => {
    // 0.5·x³ plus a term whose derivative (5e-5) the rule misses. A scalar is compared as it is,
    // so every seed sees the full 5e-5 > atol 1e-5 + rtol·0.015 at x = 0.1; a projection on a
    // random c ∈ (−1, 1) would have shrunk it below the tolerance whenever |c| < 0.29.
    const rightRule = (x: Tensor) => mul(0.5, sum(goodCube(x)));
    const missedTerm = (x: Tensor) => add(rightRule(x), mul(5e-5, sum(stopGradient(x))));
    const x = f64([0.1, 1]);
    for (let seed = 0; seed < 20; seed++) {
      const e = mismatch(() => checkGrads(missedTerm, [x], { seed }));
      expect(e.index).toEqual([0]);
      expect(e.absError).toBeCloseTo(5e-5, 9);
      expect(checkGrads(rightRule, [x], { seed }).checked).toBe(2);
    }
  });

  it("the default atol shrinks with the derivatives: a loss scaled down is checked as strictly", () => {
    // A 5% error in derivatives near 1e-6 hides under a fixed atol of 1e-5; the default atol
    // shrinks with the largest derivative (here down to finite differences' own error).
    const f = (scale: number) => (x: Tensor) => mul(scale, sum(brokenCube(x)));
    const x = f64([0.8, 0.85]);
    expect(() => checkGrads(f(1e-6), [x], { atol: 1e-5 })).not.toThrow();
    const e = mismatch(() => checkGrads(f(1e-6), [x]));
    const atol = Number(/ > atol (\S+) \(/.exec(e.message)![1]);
    expect(atol).toBeLessThan(1e-9);
    expect(e.relError).toBeCloseTo(0.08 / 2, 6);
    // Scaled up instead, rtol catches it either way.
    expect(() => checkGrads(f(1e6), [x])).toThrow(GradientMismatchError);
  });

  it("tolerances can be loosened", () => {
    // analytic 2 vs numeric 3·(0.8)² = 1.92: passes with atol 0.1, fails by default.
    expect(() => checkGrads((x: Tensor) => sum(brokenCube(x)), [f64([0.8])])).toThrow(
      TapegradError,
    );
    expect(checkGrads((x: Tensor) => sum(brokenCube(x)), [f64([0.8])], { atol: 0.1 }).checked).toBe(
      1,
    );
  });
});

describe("checkOpGradients (the registry-wide check)", () => {
  it("fails for an op with a broken vjp: first failing case, shrunk case, and how to replay", () => {
    const op = getOp("checkGradsTest_brokenCube")!;
    const e = caught(() => checkOpGradients(op, { numRuns: 10, seed: 1 }));
    expect(e.code).toBe("GRADIENT_MISMATCH");
    const lines = e.message.split("\n");
    expect(lines[0]).toMatch(/^checkGradsTest_brokenCube: the gradient check failed at case \d+$/);
    const replay =
      /replay: checkOpGradients\(getOp\("checkGradsTest_brokenCube"\)!, \{ seed: (-?\d+), path: "([\d:]+)" \}\)/.exec(
        e.message,
      );
    expect(replay, e.message).not.toBeNull();
    expect(e.message).toMatch(/first failing case, before shrinking: x: float64\[[\d,]*\] /);
    expect(e.message).toMatch(/shrunk to: x: float64\[[\d,]*\] .*; attrs \{\}; probe seed \d+/);
    // Both cases carry checkGrads' own report, indented, naming the input by its declared name.
    expect(e.message).toMatch(/\n {4}checkGradsTest_brokenCube: reverse-mode .* at x/);
    const cause = (e as Error & { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(GradientMismatchError);
    expect((cause as GradientMismatchError).input).toBe("x");
    // The seed and path replay the shrunk case directly.
    const again = caught(() =>
      checkOpGradients(op, { seed: Number(replay![1]), path: replay![2] }),
    );
    expect(again.message).toContain(e.message.slice(e.message.indexOf("shrunk to:")));
  });

  it("fails for an op whose vjp returns a wrongly shaped gradient, naming the op and the input", () => {
    const e = caught(() =>
      checkOpGradients(getOp("checkGradsTest_brokenBroadcast")!, { numRuns: 5, seed: 1 }),
    );
    const cause = (e as Error & { cause?: unknown }).cause as TapegradError;
    expect(cause.code).toBe("SHAPE_MISMATCH");
    expect(cause.message).toBe(
      "checkGradsTest_brokenBroadcast: vjp returned a gradient of shape [2,3] for input b of shape [3]",
    );
  });

  it("passes for a correct custom op and for built-ins", () => {
    expect(() =>
      checkOpGradients(getOp("checkGradsTest_goodCube")!, { numRuns: 20 }),
    ).not.toThrow();
    expect(() => checkOpGradients(getOp("mul")!, { numRuns: 10 })).not.toThrow();
  });

  it("lists ops with a vjp and samples, including user-defined ones", () => {
    const names = differentiableOps().map((o) => o.definition.name);
    expect(names).toContain("checkGradsTest_goodCube");
    expect(names).toContain("checkGradsTest_brokenCube");
    expect(names).toContain("add");
    // Comparisons have no vjp.
    expect(names).not.toContain("greater");
  });

  it("ops without samples or without a vjp are skipped, not failed", () => {
    const noSamples = defineOp({
      name: "checkGradsTest_noSamples",
      inputs: ["x"],
      forward: ([x]) => x,
      vjp: ({ dy }) => [mul(dy, 100)],
    });
    expect(() => checkOpGradients(getOp(noSamples.definition.name)!)).not.toThrow();
    expect(differentiableOps().map((o) => o.definition.name)).not.toContain(
      "checkGradsTest_noSamples",
    );
  });
});
