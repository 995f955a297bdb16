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
  sum,
  tanh,
  tensor,
  transpose,
  type Tensor,
} from "../index.js";
import { arbitraries, checkGrads, checkOpGradients, differentiableOps } from "./index.js";
import { caught } from "../../test/helpers.js";

const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: "float64" });

function cubeForward(x: Tensor): Tensor {
  const out = new Float64Array(x.size);
  for (let i = 0; i < x.size; i++) out[i] = x.data[i]! ** 3;
  return tensor(out, { shape: x.shape, dtype: x.dtype });
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

describe("checkGrads detects wrong gradients", () => {
  it("throws a TapegradError GRADIENT_MISMATCH naming the argument path and element index", () => {
    const params = { layer: { w: f64([Math.sqrt(2 / 3), 2, 1]) }, b: f64(0.5) };
    const e = caught(() =>
      checkGrads((p: typeof params) => add(sum(brokenCube(p.layer.w)), p.b), [params]),
    );
    expect(e).toBeInstanceOf(TapegradError);
    expect((e as TapegradError).code).toBe("GRADIENT_MISMATCH");
    // Element 0 matches by construction; element 1 is the first wrong one. The scalar output is
    // projected on a random cotangent c: analytic 2c against numeric 3·2²·c = 12c.
    const match =
      /^checkGrads: gradient mismatch at argument 0 \("layer\.w"\), element 1 of shape \[3\]: analytic (\S+), numeric (\S+) /.exec(
        e.message,
      );
    expect(match, e.message).not.toBeNull();
    expect(Number(match![2]) / Number(match![1])).toBeCloseTo(6, 6);
    expect(e.message).toMatch(/> atol 0\.00001 \+ rtol 0\.001·\|numeric\|/);
  });

  it("names later arguments and uses the name option", () => {
    const e = caught(() =>
      checkGrads(
        (a: Tensor, b: Tensor) => mul(sum(a), sum(brokenCube(b))),
        [
          f64([1]),
          f64([
            [1, 1],
            [Math.sqrt(2 / 3), 3],
          ]),
        ],
        {
          name: "myModel",
        },
      ),
    );
    expect((e as TapegradError).code).toBe("GRADIENT_MISMATCH");
    // A bare tensor argument has no path: only the index and the element.
    expect(e.message).toMatch(
      /^myModel: gradient mismatch at argument 1, element 0 of shape \[2,2\]/,
    );
  });

  it("catches a wrong gradient for a non-scalar output as well", () => {
    const e = caught(() => checkGrads((x: Tensor) => brokenCube(x), [f64([1.5, 2])], { seed: 3 }));
    expect((e as TapegradError).code).toBe("GRADIENT_MISMATCH");
    expect(e.message).toMatch(/argument 0, element 0 of shape \[2\]/);
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
  it("fails for an op with a broken vjp, naming the op", () => {
    const op = getOp("checkGradsTest_brokenCube")!;
    const e = caught(() => checkOpGradients(op, { numRuns: 10, seed: 1 }));
    expect(e.message).toMatch(/^checkGradsTest_brokenCube: gradient mismatch at argument 0/);
    expect(e.message).toMatch(/counterexample: /);
    const cause = (e as Error & { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(TapegradError);
    expect((cause as TapegradError).code).toBe("GRADIENT_MISMATCH");
    expect((cause as TapegradError).message).toMatch(
      /^checkGradsTest_brokenCube: gradient mismatch at argument 0, element \d+ of shape/,
    );
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
