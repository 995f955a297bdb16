import { readdirSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  batchFallbackOps,
  defineOp,
  getOp,
  listOps,
  mul,
  stack,
  vmap,
  zeros,
  type Tensor,
} from "../src/index.js";
import { makeSampleKit } from "../src/testing/sampleKit.js";
import { outputsOf, subjects } from "./subjects.js";

// Every op under vmap: for its own samples, batch sizes 0–4 and random axes per input (the first,
// the last, or null: not mapped), vmap(op) of the stacked slices equals op on each slice, stacked.
// The batched result is computed by the op's batching rule, or by vmap's loop over the slices
// for an op without one (batchFallbackOps lists those).

const customOps = new URL("./custom-ops/", import.meta.url);
for (const file of readdirSync(customOps).filter((f) => f.endsWith(".ts"))) {
  await import(new URL(file, customOps).href);
}

const kit = makeSampleKit(fc);

/** Slice b of a batch: float inputs scaled by 1 + b/64 so that slices differ, others as given. */
const sliceOf = (x: Tensor, b: number): Tensor => (x.dtype === "int32" ? x : mul(x, 1 + b / 64));

/** Where each input is mapped, as drawn: 0 = its first axis, 1 = its last, 2 = not mapped. */
type Placement = 0 | 1 | 2;

/**
 * Throws unless vmap of `op` over `size` slices of `inputs` (placed as `placements` say) equals
 * the op applied slice by slice, naming the op, the inAxes and the first differing element.
 */
function checkBatching(
  name: string,
  apply: (xs: Tensor[]) => Tensor | readonly Tensor[],
  inputs: readonly Tensor[],
  size: number,
  placements: readonly Placement[],
): void {
  const inAxes = inputs.map((x, i) => {
    const p = placements[i % placements.length]!;
    return p === 2 || (p === 1 && x.ndim === 0) ? null : p === 0 ? 0 : x.ndim;
  });
  const slices = Array.from({ length: size }, (_, b) =>
    inputs.map((x, i) => (inAxes[i] === null ? x : sliceOf(x, b))),
  );
  const batched = inputs.map((x, i) => {
    const axis = inAxes[i]!;
    if (axis === null) return x;
    if (size === 0) return zeros([...x.shape.slice(0, axis), 0, ...x.shape.slice(axis)], x.dtype);
    return stack(
      slices.map((s) => s[i]!),
      axis,
    );
  });
  // With no slices, the results are empty batches of the shapes one slice would give.
  const expected =
    size === 0 ? [outputsOf(apply([...inputs]))] : slices.map((s) => outputsOf(apply(s)));
  const got = outputsOf(
    vmap((...xs: Tensor[]) => apply(xs), { inAxes, axisSize: size })(...batched),
  );
  got.forEach((y, k) => {
    const one = expected[0]![k]!;
    const want =
      size === 0
        ? zeros([0, ...one.shape], one.dtype)
        : stack(
            expected.map((e) => e[k]!),
            0,
          );
    const where = `${name}: vmap with inAxes ${JSON.stringify(inAxes)} over ${size} slices`;
    expect(y.shape, `${where}: output ${k}'s shape`).toEqual(want.shape);
    const a = y.data;
    const e = want.data;
    for (let j = 0; j < e.length; j++) {
      if (Object.is(a[j], e[j])) continue;
      const close = Math.abs(a[j]! - e[j]!) <= 1e-12 * Math.max(1, Math.abs(e[j]!));
      expect(close, `${where}: output ${k}, element ${j}: got ${a[j]}, expected ${e[j]}`).toBe(
        true,
      );
    }
  });
}

const withSamples = listOps().filter((op) => op.definition.samples !== undefined);

describe("every op under vmap equals the op on each slice, stacked (float64)", () => {
  for (const op of withSamples) {
    it(op.definition.name, () => {
      const placements = fc.array(fc.constantFrom<Placement>(0, 1, 2), {
        minLength: 1,
        maxLength: 4,
      });
      fc.assert(
        fc.property(
          op.definition.samples!(kit),
          fc.integer({ min: 0, max: 4 }),
          placements,
          (sample, size, placed) => {
            for (const s of subjects(op, sample.inputs, sample.attrs)) {
              checkBatching(s.name, s.apply, s.inputs, size, placed);
            }
          },
        ),
        { numRuns: 15 },
      );
    });
  }
});

describe("batching rules", () => {
  it("every built-in op has a rule; the user ops without one are listed and still work", () => {
    // The ops of test/custom-ops are written as a user would, without batching rules.
    expect(batchFallbackOps().sort()).toEqual(["cube", "sinCos"]);
  });

  it("a broken rule fails the check, which names the op, the inAxes and the element", () => {
    const broken = defineOp({
      name: "batchingTest_brokenSquare",
      inputs: ["x"],
      forward: ([x]) => mul(x, x),
      // Forgets that x's batch axis may lie elsewhere than 0 and reports 0 regardless.
      batch: ({ inputs: [x] }) => ({ y: mul(x, x), axes: [0] }),
    });
    const op = getOp(broken.definition.name)!;
    // x of shape [3] mapped along its last axis: the stacked input is [3, 3], so the rule's
    // wrong axis passes the size check and the slices come out transposed.
    const x = kit.fc.sample(kit.tensor([3]), { numRuns: 1, seed: 1 })[0]!;
    let message = "";
    try {
      checkBatching(op.definition.name, (xs) => op.apply(xs), [x], 3, [1]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /^batchingTest_brokenSquare: vmap with inAxes \[1\] over 3 slices: output 0, element 1: got /,
    );
  });
});
