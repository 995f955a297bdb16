import { beforeAll, describe, expect, it } from "vitest";
import { cast, prng, TapegradError, tensor, treeLeaves, type Tensor } from "@tapegrad/autodiff";
import { twoMoons } from "@tapegrad/data";
import {
  evaluate,
  maxParamDifference,
  memberMlp,
  memberOf,
  stackMembers,
  trainOneByOne,
  trainTogether,
  type EnsembleOptions,
  type LabelledSet,
  type TrainedEnsemble,
} from "./ensembleTraining.js";

/** Two moons as a small stand-in for Fashion-MNIST: the same code, 16 steps per member. */
function moons(n: number, seed: number, dtype: "float32" | "float64"): LabelledSet {
  const { x, y } = twoMoons(n, prng(seed));
  return { x: dtype === "float32" ? x : cast(x, dtype), y };
}

const base = { seeds: [0, 1, 2, 3], hidden: 16, classes: 2, batchSize: 32, epochs: 2, lr: 0.1 };

describe.each([
  // The tolerances leave room for a batched kernel that rounds differently (a sum in another
  // order), while a wrong member, batch or update moves params by far more (0.01 and up).
  { dtype: "float64" as const, tolerance: 1e-12, batches: "shared" as const },
  { dtype: "float32" as const, tolerance: 1e-5, batches: "shared" as const },
  { dtype: "float64" as const, tolerance: 1e-12, batches: "perMember" as const },
])("the vmapped ensemble in $dtype, $batches batches", ({ dtype, tolerance, batches }) => {
  let together: TrainedEnsemble;
  let oneByOne: TrainedEnsemble;
  beforeAll(() => {
    const options: EnsembleOptions = { ...base, dtype, batches };
    const train = moons(256, 10, dtype);
    together = trainTogether(train, options);
    oneByOne = trainOneByOne(train, options);
  });

  it(`ends with the params of the one-by-one trainings (within ${tolerance})`, () => {
    expect(together.members).toHaveLength(4);
    expect(maxParamDifference(together.members, oneByOne.members)).toBeLessThanOrEqual(tolerance);
    together.losses.forEach((losses, i) =>
      losses.forEach((v, s) =>
        expect(Math.abs(v - oneByOne.losses[i]![s]!)).toBeLessThan(tolerance),
      ),
    );
  });

  it("trains members that differ from each other and each learn", () => {
    // Equal members would make the comparison above hold for a wrongly broadcast update too.
    expect(maxParamDifference([together.members[0]!], [together.members[1]!])).toBeGreaterThan(
      0.01,
    );
    for (const losses of together.losses) {
      expect(losses).toHaveLength(16);
      expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]!);
    }
  });

  it("timed one step per batch together and one per batch and member apart", () => {
    expect(together.stepMs).toHaveLength(16);
    expect(oneByOne.stepMs).toHaveLength(64);
    expect(together.totalMs).toBeGreaterThan(0);
  });
});

describe("batches", () => {
  const train = moons(128, 12, "float64");
  const twins = { ...base, seeds: [5, 5], epochs: 1, dtype: "float64" as const };

  it("shared: members from the same seed stay identical", () => {
    const { members } = trainTogether(train, { ...twins, batches: "shared" });
    expect(maxParamDifference([members[0]!], [members[1]!])).toBe(0);
  });

  it("perMember: members from the same seed part ways on their own batches", () => {
    const { members, losses } = trainTogether(train, { ...twins, batches: "perMember" });
    expect(maxParamDifference([members[0]!], [members[1]!])).toBeGreaterThan(0.01);
    // Same params at step 0, different batches: different losses already.
    expect(losses[0]![0]).not.toBe(losses[1]![0]);
  });
});

describe("stacked params", () => {
  it("unstack to the members they were stacked from", () => {
    const model = memberMlp(3, 5, 2, "float64");
    const members = [0, 1, 2].map((seed) => model.init(prng(seed)).params);
    const stacked = stackMembers(members);
    expect(stacked.hidden.weight.shape).toEqual([3, 5, 3]);
    expect(stacked.out.bias!.shape).toEqual([3, 2]);
    members.forEach((member, i) => {
      const leaves = treeLeaves(memberOf(stacked, i)) as Tensor[];
      const expected = treeLeaves(member) as Tensor[];
      leaves.forEach((leaf, k) => expect(leaf.toArray()).toEqual(expected[k]!.toArray()));
    });
  });
});

describe("evaluate", () => {
  const model = memberMlp(2, 8, 2, "float64");
  const test = moons(200, 3, "float64");
  const members = [4, 5, 6].map((seed) => model.init(prng(seed)).params);

  it("scores an ensemble of one as that member", () => {
    const { members: acc, ensemble } = evaluate(model, [members[0]!], test);
    expect(ensemble).toBe(acc[0]);
  });

  it("averages probabilities, not logits", () => {
    // Three one-unit "members" on one example of class 0 (the hidden layer passes x = 1 through
    // the ReLU, so the logits are the output weights): A is sure of class 1 (logits [0, 20]),
    // B and C fairly sure of class 0 ([5, 0]). Mean probabilities pick class 0 (p ≈ 0.66); mean
    // logits ([3.3, 6.7]) would pick class 1.
    const f64 = (values: number[] | number[][]) => tensor(values, { dtype: "float64" });
    const tiny = memberMlp(1, 1, 2, "float64");
    const member = (logit0: number, logit1: number) => ({
      hidden: { weight: f64([[1]]), bias: f64([0]) },
      relu: {},
      out: { weight: f64([[logit0], [logit1]]), bias: f64([0, 0]) },
    });
    const one = { x: f64([[1]]), y: tensor([0], { dtype: "int32" }) };
    const result = evaluate(tiny, [member(0, 20), member(5, 0), member(5, 0)], one);
    expect(result.members).toEqual([0, 1, 1]);
    expect(result.ensemble).toBe(1);
  });

  it("reports one accuracy per member", () => {
    expect(evaluate(model, members, test).members).toHaveLength(3);
  });
});

it("rejects an ensemble without members", () => {
  expect(() => trainTogether(moons(8, 0, "float32"), { ...base, seeds: [] })).toThrow(
    TapegradError,
  );
});
