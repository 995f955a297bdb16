import { readdirSync } from "node:fs";
import * as fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cast, defineOp, jit, jitTuning, listOps, mul, type Tensor } from "../src/index.js";
import { makeSampleKit } from "../src/testing/sampleKit.js";
import { expectSameBits } from "./helpers.js";
import { outputsOf, subjects } from "./subjects.js";

// Every op under jit: for its own samples, the op (and its pullback and jvp, each a program of
// several ops) jitted gives the eager result bit for bit on the call that traces it and on
// replays with other values: the first records the program's allocations, the later ones run on
// the buffers its memory plan shares. The same kernels run either way, so nothing less than equal
// bits is right.

const customOps = new URL("./custom-ops/", import.meta.url);
for (const file of readdirSync(customOps).filter((f) => f.endsWith(".ts"))) {
  await import(new URL(file, customOps).href);
}

const kit = makeSampleKit(fc);

/** Other values of the same signature: float inputs scaled by 1 + k/64, others as given. */
const othersLike = (xs: readonly Tensor[], k: number): Tensor[] =>
  xs.map((x) => (x.dtype === "int32" ? x : mul(x, 1 + k / 64)));

/**
 * Throws unless jit(apply) equals apply bit for bit on `inputs` (the call that traces it) and on
 * other values of the same shapes (three replays), naming the subject, the call and the element.
 */
function checkJit(
  name: string,
  apply: (xs: Tensor[]) => Tensor | readonly Tensor[],
  inputs: readonly Tensor[],
): void {
  let traces = 0;
  const jitted = jit((...xs: Tensor[]) => {
    traces++;
    return apply(xs);
  });
  const calls: [string, readonly Tensor[]][] = [["traced call", inputs]];
  for (let k = 1; k <= 3; k++) calls.push([`replay ${k}`, othersLike(inputs, k)]);
  for (const [call, xs] of calls) {
    const got = outputsOf(jitted(...xs));
    const want = outputsOf(apply([...xs]));
    want.forEach((w, k) => expectSameBits(got[k]!, w, `${name}, ${call}, output ${k}`));
  }
  expect(traces, `${name}: traced once`).toBe(1);
}

const withSamples = listOps().filter((op) => op.definition.samples !== undefined);

describe("every op under jit equals the op run eagerly, traced and replayed (float64)", () => {
  for (const op of withSamples) {
    it(op.definition.name, () => {
      fc.assert(
        fc.property(op.definition.samples!(kit), (sample) => {
          for (const s of subjects(op, sample.inputs, sample.attrs)) {
            checkJit(s.name, s.apply, s.inputs);
          }
        }),
        { numRuns: 10 },
      );
    });
  }
});

// Every elementwise op fused: op(…)·3 is a chain of two that a replay below every transform runs
// as one generated pass computing each op from its `elementwise` rule. That rule must give the
// op's forward bit for bit, with the inputs broadcast as the op broadcasts them, in float64 and
// in float32, where the pass must round op's value before multiplying it as the ops do (a
// negation would hide a missing rounding: it commutes with it).

const elementwise = withSamples.filter((op) => op.definition.elementwise !== undefined);
const asFloat32 = (xs: readonly Tensor[]) =>
  xs.map((x) => (x.dtype === "float64" ? cast(x, "float32") : x));

describe("every elementwise op fused into one pass equals the op run eagerly", () => {
  beforeAll(() => void (jitTuning.maxFusedElements = Infinity));
  afterAll(() => void (jitTuning.maxFusedElements = 256));
  for (const op of elementwise) {
    const name = op.definition.name;
    it(name, () => {
      fc.assert(
        fc.property(op.definition.samples!(kit), (sample) => {
          const chain = (xs: Tensor[]) => mul(op.apply(xs, sample.attrs) as Tensor, 3);
          for (const inputs of [sample.inputs, asFloat32(sample.inputs)]) {
            const listing = jit((...xs: Tensor[]) => chain(xs))
              .trace(...inputs)
              .toString({ fused: true });
            expect(listing, `${name}: fused`).toContain(`= fused[${name},mul] `);
            checkJit(`fused ${name}, ${inputs[0]!.dtype}`, chain, inputs);
          }
        }),
        { numRuns: 10 },
      );
    });
  }
});

describe("the jit check", () => {
  it("fails a program that replays something other than what the function computes", () => {
    // From its third call on, the function scales by another tensor, which only a retrace would
    // see: the replay keeps the traced call's constant, as a wrong program would.
    const [a, b, x] = [1, 2, 3].map(
      (seed) => kit.fc.sample(kit.tensor([3]), { numRuns: 1, seed })[0]!,
    );
    let calls = 0;
    let message = "";
    try {
      checkJit("scaled", (xs) => mul(xs[0]!, ++calls <= 2 ? a! : b!), [x!]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^scaled, replay 1, output 0, element 0: got /);
  });

  it("fails a fused pass whose op's elementwise rule is not what its forward computes", () => {
    // forward doubles x; the rule also adds 1. Only replays run fused passes, so the traced call
    // is right and the first replay is not.
    const doubled = defineOp({
      name: "doubledWithAWrongRule",
      inputs: ["x"],
      forward: ([x]) => mul(x, 2),
      elementwise: () => (v) => 2 * v + 1,
    });
    const x = kit.fc.sample(kit.tensor([3]), { numRuns: 1, seed: 4 })[0]!;
    jitTuning.maxFusedElements = Infinity;
    try {
      expect(() => checkJit("doubled", (xs) => mul(doubled(xs[0]!), 3), [x])).toThrow(
        /^doubled, replay 1, output 0, element 0: got /,
      );
    } finally {
      jitTuning.maxFusedElements = 256;
    }
  });
});
