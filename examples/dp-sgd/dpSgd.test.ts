import { beforeAll, describe, expect, it } from "vitest";
import {
  Tensor,
  cast,
  grad,
  mul,
  prng,
  reshape,
  slice,
  sum,
  tensor,
  treeFlatten,
  treeMap,
  zeros,
} from "@tapegrad/autodiff";
import { crossEntropy } from "@tapegrad/nn";
import { lenet } from "@tapegrad/train";
import { compareTrainings, loadFashionMnist, median, type Comparison } from "./dpSgd.js";
import {
  clipFactors,
  clipPerExample,
  perExampleGradients,
  privateGradient,
} from "./privateStep.js";

const model = lenet();
const loss = (params: unknown, x: Tensor, y: Tensor) => crossEntropy(model.apply(params, x), y);

/** Every leaf of a tree as [path, values], in the tree's order. */
function leaves(tree: unknown): [string, number[]][] {
  return treeFlatten(tree).map(([path, leaf]) => [path, Array.from((leaf as Tensor).data)]);
}

/** max |a − b| over every value of two trees of the same structure. */
function maxDifference(a: unknown, b: unknown): number {
  const left = leaves(a);
  const right = leaves(b);
  expect(left.map(([path]) => path)).toEqual(right.map(([path]) => path));
  let worst = 0;
  left.forEach(([, values], k) => {
    const other = right[k]![1];
    expect(values.length).toBe(other.length);
    values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[i]!))));
  });
  return worst;
}

/** Example i of a per-example tree (axis 0 of every leaf), as a tree of the params' shapes. */
function example(tree: unknown, i: number): unknown {
  return treeMap((leaf: Tensor) => {
    const start = leaf.shape.map((_, k) => (k === 0 ? i : 0));
    const end = leaf.shape.map((d, k) => (k === 0 ? i + 1 : d));
    return reshape(slice(leaf, start, end), leaf.shape.slice(1));
  }, tree);
}

/** The L2 norm of a whole tree, in float64 arithmetic. */
function norm(tree: unknown): number {
  return Math.sqrt(leaves(tree).reduce((s, [, vs]) => s + vs.reduce((t, v) => t + v * v, 0), 0));
}

// LeNet in float64 at its initial params, and a few random float64 images with labels: the
// per-example gradients must agree with separate grad calls to float64 rounding.
const B = 4;
const params64 = treeMap((p: Tensor) => cast(p, "float64"), model.init(prng(1)).params);
const x64 = prng(2).normal([B, 1, 28, 28], { dtype: "float64" });
const y = tensor([3, 0, 7, 3], { dtype: "int32" });
// Computed once for all the tests below: the float64 vmap(grad) is the slow part of this file.
let perExample: unknown;
beforeAll(() => {
  perExample = perExampleGradients(loss)(params64, x64, y);
});

describe("per-example gradients by vmap(grad)", () => {
  it("equal B separate grad calls, one example each (float64, within 1e-10)", () => {
    for (const [path, leaf] of treeFlatten(perExample)) {
      expect((leaf as Tensor).shape[0], path).toBe(B);
      expect((leaf as Tensor).dtype, path).toBe("float64");
    }
    for (let i = 0; i < B; i++) {
      const xi = slice(x64, [i, 0, 0, 0], [i + 1, 1, 28, 28]);
      const alone = grad(loss)(params64, xi, slice(y, [i], [i + 1]));
      expect(maxDifference(example(perExample, i), alone)).toBeLessThan(1e-10);
      // Not a vacuous match: each example's gradient is its own.
      if (i > 0) expect(maxDifference(example(perExample, i - 1), alone)).toBeGreaterThan(1e-3);
    }
  });
});

describe("clipping each example's gradient to norm ≤ C", () => {
  let normsBefore: number[];
  let clipNorm: number;
  beforeAll(() => {
    normsBefore = Array.from({ length: B }, (_, i) => norm(example(perExample, i)));
    // C between the norms, so that some examples are clipped and some are not.
    clipNorm = median(normsBefore);
  });

  it("reports each example's norm over all leaves together", () => {
    const { norms } = clipFactors(perExample, clipNorm);
    Array.from(norms.data).forEach((v, i) => expect(v).toBeCloseTo(normsBefore[i]!, 10));
  });

  it("brings every norm to ≤ C, scales the ones above C to C, leaves the others as they were", () => {
    expect(normsBefore.filter((v) => v > clipNorm).length).toBe(B / 2);
    const clipped = clipPerExample(perExample, clipNorm);
    for (let i = 0; i < B; i++) {
      const before = example(perExample, i);
      const after = example(clipped, i);
      expect(norm(after)).toBeLessThanOrEqual(clipNorm * (1 + 1e-12));
      if (normsBefore[i]! <= clipNorm) {
        expect(maxDifference(after, before)).toBe(0);
      } else {
        expect(norm(after)).toBeCloseTo(clipNorm, 12);
        // Same direction: after = before·C/‖before‖.
        const scaled = treeMap((t: Tensor) => mul(t, clipNorm / normsBefore[i]!), before);
        expect(maxDifference(after, scaled)).toBeLessThan(1e-14);
      }
    }
  });

  it("leaves an all-zero gradient at zero (no 0/0)", () => {
    const tree = {
      w: tensor(
        [
          [0, 0],
          [3, 4],
        ],
        { dtype: "float64" },
      ),
      b: zeros([2], "float64"),
    };
    const clipped = clipPerExample(tree, 1);
    const [zero, scaled] = clipped.w.toArray() as number[][];
    expect(zero).toEqual([0, 0]);
    expect(scaled![0]).toBeCloseTo(0.6, 15);
    expect(scaled![1]).toBeCloseTo(0.8, 15);
    expect(clipped.b.toArray()).toEqual([0, 0]);
  });

  it("rejects a clip norm that is not > 0 and leaves whose example counts differ", () => {
    expect(() => clipPerExample(perExample, 0)).toThrow(/clipNorm must be a finite number > 0/);
    const uneven = { w: zeros([3, 2]), b: zeros([2]) };
    expect(() => clipFactors(uneven, 1)).toThrow(/gradient\.b has 2 examples on axis 0/);
  });
});

describe("the DP-SGD gradient", () => {
  it("with σ = 0 and C above every norm, is the ordinary gradient of the batch's mean loss", () => {
    const { gradient } = privateGradient(perExample, {
      clipNorm: 1e6,
      noiseMultiplier: 0,
      rng: prng(0),
    });
    expect(maxDifference(gradient, grad(loss)(params64, x64, y))).toBeLessThan(1e-10);
  });

  it("with σ = 0 and C among the norms, is the mean of the clipped gradients", () => {
    // privateGradient sums with one matrix product; clipPerExample scales explicitly.
    const { norms } = clipFactors(perExample, 1);
    const clipNorm = median(Array.from(norms.data));
    const { gradient } = privateGradient(perExample, {
      clipNorm,
      noiseMultiplier: 0,
      rng: prng(0),
    });
    const clipped = clipPerExample(perExample, clipNorm);
    const mean = treeMap((t: Tensor) => mul(sum(t, { axis: 0 }), 1 / B), clipped);
    expect(maxDifference(gradient, mean)).toBeLessThan(1e-14);
  });

  it("adds noise of std σ·C/B per coordinate, drawn from the given seed", () => {
    // Zero gradients leave only the noise: (0 + N(0, σ²C²)) / B in each of 20,050 coordinates.
    const batch = 8;
    const sigma = 1.3;
    const clipNorm = 0.7;
    const zeroGradients = {
      w: zeros([batch, 200, 100], "float64"),
      b: zeros([batch, 50], "float64"),
    };
    const noise = (seed: number) =>
      privateGradient(zeroGradients, { clipNorm, noiseMultiplier: sigma, rng: prng(seed) })
        .gradient;
    const values = leaves(noise(7)).flatMap(([, vs]) => vs);
    const n = values.length;
    const mean = values.reduce((s, v) => s + v, 0) / n;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
    const expected = (sigma * clipNorm) / batch;
    // A sample std of n normals is off by about 1/√(2n) ≈ 0.5% relative; allow 3%.
    expect(Math.abs(std / expected - 1)).toBeLessThan(0.03);
    expect(Math.abs(mean)).toBeLessThan((4 * expected) / Math.sqrt(n));
    // The small leaf is noised too, not just the large one that dominates the pooled count.
    const bValues = Array.from(noise(7).b.data);
    const bStd = Math.sqrt(bValues.reduce((s, v) => s + v * v, 0) / bValues.length);
    expect(Math.abs(bStd / expected - 1)).toBeLessThan(0.3);
    expect(maxDifference(noise(7), noise(7))).toBe(0);
    expect(maxDifference(noise(7), noise(8))).toBeGreaterThan(expected);
  });

  it("rejects a negative noise multiplier", () => {
    expect(() =>
      privateGradient(perExample, { clipNorm: 1, noiseMultiplier: -1, rng: prng(0) }),
    ).toThrow(/noiseMultiplier must be a finite number ≥ 0/);
  });
});

describe("a short DP-SGD run on real Fashion-MNIST", () => {
  let r: Comparison;
  beforeAll(async () => {
    // The real files are required (CI installs them): a missing file fails here, naming the
    // paths it looked for and how to install them, rather than skipping.
    const train = await loadFashionMnist("train", { limit: 512 });
    // Twice the default rate, so that 40 steps show a clear drop (over seeds 0–3 the private
    // loss ends at 0.55–0.71 of its start; at the default rate, 0.83–0.93).
    r = compareTrainings(train, train, { steps: 40, batchSize: 32, lr: 0.1, seed: 0 });
  }, 60_000);

  it("lowers the loss, privately and ordinarily, in the same number of steps", () => {
    expect(r.private.stepMillis.length).toBe(40);
    expect(r.ordinary.stepMillis.length).toBe(40);
    // Both start from the same params, so from the same loss (ln 10 ≈ 2.30 at initialisation).
    expect(r.private.initialLoss).toBe(r.ordinary.initialLoss);
    expect(r.private.initialLoss).toBeGreaterThan(2);
    expect(r.private.finalLoss).toBeLessThan(0.85 * r.private.initialLoss);
    expect(r.ordinary.finalLoss).toBeLessThan(0.85 * r.ordinary.initialLoss);
    expect(r.private.accuracy).toBeGreaterThan(0.25);
    expect(r.samplingRate).toBe(32 / 512);
  });
});
