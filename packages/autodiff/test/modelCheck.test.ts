import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  abs,
  add,
  avgPool2d,
  conv2d,
  defineOp,
  gather,
  getOp,
  less,
  logSoftmax,
  matmul,
  maxPool2d,
  mean,
  mul,
  prng,
  relu,
  reshape,
  sigmoid,
  sign,
  square,
  sub,
  sum,
  tanh,
  where,
  zeros,
  type Tensor,
} from "../src/index.js";
import { GradientMismatchError, checkGrads, type CheckProgress } from "../src/testing/index.js";
import { withPlantedBug } from "@tapegrad/test-kit";
import { caught } from "./helpers.js";

// Whole-model gradient checks: a bug planted in one op of a model must fail the check for every
// seed, and the failure must name that op and the line of this file that applied it.

const SOURCE = readFileSync(new URL(import.meta.url), "utf8").split("\n");

/** The line of this file that holds `marker` (a comment at the end of the line). */
function lineOf(marker: string): number {
  const matches = SOURCE.flatMap((text, i) => (text.endsWith(`// ${marker}`) ? [i + 1] : []));
  expect(matches).toHaveLength(1);
  return matches[0]!;
}

function mismatchOf(fn: () => unknown): GradientMismatchError {
  const e = caught(fn);
  expect(e).toBeInstanceOf(GradientMismatchError);
  return e as GradientMismatchError;
}

const normal = (seed: number, shape: number[], scale = 1) =>
  mul(prng(seed).normal(shape, { dtype: "float64" }), scale);

// Huber loss, quadratic within DELTA of 0 and linear beyond; its derivative is r clipped to ±DELTA.
const DELTA = 1.5;
function huberOp(name: string, slope: number) {
  return defineOp({
    name,
    inputs: ["r"],
    forward: ([r]) => {
      const a = abs(r);
      return where(less(a, DELTA), mul(0.5, square(r)), mul(DELTA, sub(a, 0.5 * DELTA)));
    },
    vjp: ({ dy, inputs: [r] }) => [mul(dy, where(less(abs(r), DELTA), r, mul(slope, sign(r))))],
  });
}
const huber = huberOp("modelCheckTest_huber", DELTA);
// The planted bug: the linear part's slope is 1.6 instead of 1.5.
const wrongHuber = huberOp("modelCheckTest_wrongHuber", DELTA + 0.1);

type Dense = { w: Tensor; b: Tensor };

/** An autoencoder 64 → 64 → 9 → 64 → 64 (9,545 params) on 16 samples of scale 2. */
function autoencoder(loss: typeof huber) {
  const widths = [64, 64, 9, 64, 64];
  const params: Dense[] = widths.slice(1).map((width, i) => ({
    w: normal(10 + i, [widths[i]!, width], 1 / Math.sqrt(widths[i]!)),
    b: zeros([width], "float64"),
  }));
  const x = normal(1, [16, 64], 2);
  const f = (p: Dense[], input: Tensor) => {
    let h = input;
    p.forEach((layer, i) => {
      h = add(matmul(h, layer.w), layer.b);
      if (i < p.length - 1) h = tanh(h);
    });
    return mul(0.01, mean(loss(sub(h, input)))); // huber applied
  };
  return { f, params, x };
}

describe("a wrong vjp scaled down inside a model", () => {
  it("the autoencoder with a wrong Huber slope fails the default check for every seed", () => {
    const { f, params, x } = autoencoder(wrongHuber);
    for (let seed = 0; seed < 20; seed++) {
      const e = mismatchOf(() => checkGrads(f, [params, x], { argnums: 0, seed }));
      // Its derivatives are near 1e-5; the 6% error is far outside the default atol, which
      // shrinks with them, and is reported as the true partial derivative, not a projection.
      expect(e.relError).toBeGreaterThan(0.05);
      expect(e.faultyOps.map((op) => op.op)).toEqual(["modelCheckTest_wrongHuber"]);
      expect(e.faultyOps[0]!.site.split("\n")[0]).toContain(`:${lineOf("huber applied")}:`);
      const fwd = mismatchOf(() =>
        checkGrads(f, [params, x], { argnums: 0, seed, modes: ["fwd"] }),
      );
      expect(fwd.faultyOps[0]!.op).toBe("modelCheckTest_wrongHuber");
    }
  });

  it("the same autoencoder with the right Huber passes (500 sampled elements and forward mode)", () => {
    const { f, params, x } = autoencoder(huber);
    const report = checkGrads(f, [params, x], { argnums: 0, samples: 500, modes: ["rev", "fwd"] });
    expect(report.checked).toBe(500 + 1 + 1);
    expect(report.maxRelError).toBeLessThan(1e-3);
  });
});

type CnnParams = { w1: Tensor; b1: Tensor; w2: Tensor; w3: Tensor };

/** A small CNN on 2 images of 1×8×8: conv+relu, max-pool, conv, relu, avg-pool, dense, NLL. */
function cnn() {
  const params: CnnParams = {
    w1: normal(2, [3, 1, 3, 3], 0.5),
    b1: normal(3, [3], 0.1),
    w2: normal(4, [4, 3, 3, 3], 0.3),
    w3: normal(5, [4, 3], 0.5),
  };
  const x = normal(6, [2, 1, 8, 8]);
  const targets = normal(7, [2, 3]);
  const f = (p: CnnParams, images: Tensor) => {
    const h1 = conv2d(images, p.w1, { bias: p.b1, activation: "relu" }); // conv1
    // A relu's zeros make max-pooling windows with tied maxima: no op there may be blamed.
    const h2 = maxPool2d(h1, { kernelSize: 2 }); // max-pool
    const h3 = relu(conv2d(h2, p.w2, { padding: 1 })); // conv2
    const h4 = avgPool2d(h3, { kernelSize: 2 });
    const logits = matmul(reshape(h4, [2, 4]), p.w3);
    return mean(mul(logSoftmax(logits), targets));
  };
  return { f, params, x };
}

describe("the faulty op is found and named with its line", () => {
  it("a CNN passes as it is", () => {
    const { f, params, x } = cnn();
    expect(checkGrads(f, [params, x]).checked).toBe(27 + 3 + 108 + 12 + 128);
  });

  it("a CNN whose conv2d has a planted bug in its filter gradient", () => {
    const { f, params, x } = cnn();
    const e = withPlantedBug(
      "conv2d",
      (right) => (ctx) => right(ctx).map((g, i) => (i === 1 && g !== null ? mul(g, 1.02) : g)),
      () => mismatchOf(() => checkGrads(f, [params, x], { argnames: ["params", "images"] })),
    );
    expect(e.input).toBe("params.w2");
    // Only conv2d is blamed: not the max-pooling with its ties, nor the ops around it.
    expect(e.faultyOps).toHaveLength(1);
    expect(e.faultyOps[0]).toMatchObject({ op: "conv2d", input: "w", rule: "vjp" });
    expect(e.faultyOps[0]!.site.split("\n")[0]).toContain(`modelCheck.test.ts:${lineOf("conv2")}:`);
    expect(e.message).toContain("faulty op: conv2d, input w");
    expect(e.message).toMatch(/applied at:\n {6}at .*modelCheck\.test\.ts:\d+:\d+/);
  });

  it("a CNN whose max-pooling sends the gradient to the wrong cell", () => {
    const { f, params, x } = cnn();
    // The planted bug: dx moved on by one element, so each window's gradient misses its max.
    const rolled = (g: Tensor) => {
      const order = Array.from({ length: g.size }, (_, i) => (i + 1) % g.size);
      return reshape(gather(reshape(g, [-1]), order), [...g.shape]);
    };
    const e = withPlantedBug(
      "maxPool2d",
      (right) => (ctx) => right(ctx).map((g) => (g === null ? g : rolled(g))),
      () => mismatchOf(() => checkGrads(f, [params, x], { argnames: ["params", "images"] })),
    );
    expect(e.input).toBe("params.w1");
    expect(e.faultyOps.map((op) => op.op)).toEqual(["maxPool2d"]);
    expect(e.faultyOps[0]!.site.split("\n")[0]).toContain(`:${lineOf("max-pool")}:`);
  });

  it("a user-defined op inside a model", () => {
    // swish with the x·σ'(x) term forgotten.
    const wrongSwish = defineOp({
      name: "modelCheckTest_wrongSwish",
      inputs: ["x"],
      forward: ([x]) => mul(x, sigmoid(x)),
      vjp: ({ dy, inputs: [x] }) => [mul(dy, sigmoid(x))],
    });
    const p = { w1: normal(8, [5, 7], 0.5), w2: normal(9, [7, 1], 0.5) };
    const x = normal(10, [4, 5]);
    const mlp = (q: typeof p, input: Tensor) => {
      const hidden = wrongSwish(matmul(input, q.w1)); // user op
      return sum(square(matmul(hidden, q.w2)));
    };
    const e = mismatchOf(() => checkGrads(mlp, [p, x], { argnames: ["params", "x"] }));
    expect(e.faultyOps.map((op) => op.op)).toEqual(["modelCheckTest_wrongSwish"]);
    expect(e.faultyOps[0]!.input).toBe("x");
    expect(e.faultyOps[0]!.site.split("\n")[0]).toContain(`:${lineOf("user op")}:`);
  });

  it("a function that computes part of its output off the tape: no op is blamed, and why", () => {
    // item() reads a number: the dependence of the scale on x is lost to the tape.
    const f = (x: Tensor) => mul(sum(square(x)), sum(x).item());
    const e = mismatchOf(() => checkGrads(f, [normal(11, [3])]));
    expect(e.faultyOps).toEqual([]);
    expect(e.message).toContain("faulty op: none");
    expect(e.message).toContain("computed off the tape");
    // The search can be turned off.
    const quiet = mismatchOf(() => checkGrads(f, [normal(11, [3])], { findFaultyOp: false }));
    expect(quiet.message).not.toContain("faulty op");
  });
});

describe("whole-model checks that are affordable", () => {
  const { f, params, x } = cnn();
  const total = 27 + 3 + 108 + 12;

  it("argnums checks some arguments and holds the others fixed", () => {
    expect(checkGrads(f, [params, x], { argnums: 0 }).checked).toBe(total);
    expect(checkGrads(f, [params, x], { argnums: [1] }).checked).toBe(128);
    expect(() => checkGrads(f, [params, x], { argnums: 2 })).toThrow(
      /argnums must be an argument index or a non-empty list of them \(0…1\), got 2/,
    );
  });

  it("samples draws that many elements, the same ones for the same seed", () => {
    const seen = (seed: number) => {
      const progress: CheckProgress[] = [];
      const report = checkGrads(f, [params, x], {
        argnums: 0,
        samples: 40,
        seed,
        onProgress: (p) => progress.push(p),
      });
      expect(report.checked).toBe(40);
      expect(progress.map((p) => p.done)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(progress.every((p) => p.total === 40 && p.name === "checkGrads")).toBe(true);
      return progress.map((p) => p.elapsedMs);
    };
    expect(seen(1)).toHaveLength(40);
    expect(checkGrads(f, [params, x], { argnums: 0, samples: 10_000 }).checked).toBe(total);
    expect(() => checkGrads(f, [params, x], { samples: 0 })).toThrow(
      /samples must be a positive integer, got 0/,
    );
  });

  it("forward mode checks a whole model in a few passes", () => {
    const report = checkGrads(f, [params, x], { modes: ["fwd"] });
    // One directional derivative of the scalar loss, and ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩.
    expect(report.checked).toBe(2);
  });
});
