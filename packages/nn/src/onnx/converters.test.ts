import * as fc from "fast-check";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { TapegradError, cast, listOps, type Tensor } from "@tapegrad/autodiff";
import { arbitraries } from "@tapegrad/autodiff/testing";
import { CONVERTERS } from "./converters.js";
import { exportOnnxFunction } from "./export.js";

// Every op with an ONNX form, run alone in ONNX Runtime on the registry's own samples (in
// float32), must compute what tapegrad computes: a new converter is verified with no new test.

const RUNS = 12;

/** |actual − expected| ≤ atol + rtol·|expected| everywhere; NaN and ±∞ where tapegrad has them. */
function expectClose(actual: ArrayLike<number>, expected: Tensor, what: string): void {
  const want = expected.data;
  expect(actual.length, `${what}: size`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const [a, e] = [Number(actual[i]), want[i]!];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      expect(
        Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)),
        `${what}[${i}]: ${a} vs ${e}`,
      ).toBe(true);
      continue;
    }
    const tolerance = 2e-5 + 2e-5 * Math.abs(e);
    if (!(Math.abs(a - e) <= tolerance)) {
      throw new Error(`${what}: element ${i} is ${a} in ONNX Runtime, ${e} in tapegrad`);
    }
  }
}

function ortTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as Float32Array | Int32Array, [...t.shape]);
}

describe("ONNX export of every op that has an ONNX form, against ONNX Runtime", () => {
  const named = new Set(Object.keys(CONVERTERS));
  const ops = listOps().filter((op) => named.has(op.definition.name));

  it("covers registered ops only, each with samples", () => {
    expect(ops.map((op) => op.definition.name).sort()).toEqual([...named].sort());
    for (const op of ops) expect(op.definition.samples, op.definition.name).toBeDefined();
  });

  for (const op of ops) {
    const { name, samples } = op.definition;
    it(name, async () => {
      let exported = 0;
      for (const sample of fc.sample(samples!(arbitraries), { numRuns: RUNS, seed: 11 })) {
        const inputs = sample.inputs.map((t) => (t.dtype !== "int32" ? cast(t, "float32") : t));
        // The traced input: the first float input with elements; the rest become weights.
        const at = inputs.findIndex((t) => t.dtype !== "int32" && t.ndim > 0 && t.size > 0);
        if (at < 0) continue;
        const x = inputs[at]!;
        const weights = inputs.filter((_, i) => i !== at);
        const outputs = (w: readonly Tensor[], input: Tensor): readonly Tensor[] => {
          const all = [...w];
          all.splice(at, 0, input);
          const result = op.apply(all, sample.attrs);
          return Array.isArray(result) ? result : [result as Tensor];
        };
        const expected = outputs(weights, x);
        // One model per output: a multi-output op's every output is checked.
        const models: Uint8Array[] = [];
        try {
          for (let k = 0; k < expected.length; k++) {
            const output = (w: readonly Tensor[], input: Tensor) => outputs(w, input)[k]!;
            models.push(
              exportOnnxFunction(output, weights, { inputShape: x.shape, dynamicBatch: false }),
            );
          }
        } catch (error) {
          // Attrs with no ONNX form (attention's dropout) are refused by name, not exported.
          if (error instanceof TapegradError && /has no ONNX form/.test(error.message)) continue;
          throw error;
        }
        for (const [k, model] of models.entries()) {
          const session = await ort.InferenceSession.create(model);
          const { output } = await session.run({ input: ortTensor(x) });
          const what = `${name} output ${k}`;
          expect(output!.dims, `${what}: shape`).toEqual(expected[k]!.shape);
          expect(output!.type, `${what}: dtype`).toBe(expected[k]!.dtype);
          expectClose(output!.data as Float32Array, expected[k]!, what);
        }
        exported++;
      }
      // Most samples have a float input with elements and attrs ONNX can express; a suite that
      // tested none would pass.
      expect(exported).toBeGreaterThanOrEqual(RUNS / 2);
    });
  }
});
