import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  avgPool2d,
  avgPool2dBackward,
  tensor,
  vjp,
  type AvgPool2dAttrs,
  type Tensor,
} from "../index.js";
import { poolAttrs, poolConfigs, referenceAvgPool } from "../../test/reference/pool.js";

// avgPool2d against test/reference/pool.ts, a naive reference, on random problems.

describe("avgPool2d against a naive reference (property)", () => {
  it("random configurations: values, shapes, gradients, avgPool2dBackward, errors", () => {
    const configs = poolConfigs({ countIncludePad: fc.boolean() });
    fc.assert(
      fc.property(configs, (c) => {
        const shape = [...c.lead, ...c.size];
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, (_, i) => ((i * 29) % 17) - 8);
        const x = tensor(values, { shape, dtype: "float64" });
        const attrs: AvgPool2dAttrs = { ...poolAttrs(c), countIncludePad: c.countIncludePad };
        const dyAt = (i: number) => ((i * 7) % 5) - 2;
        const expected = referenceAvgPool(values, dyAt, c);
        if (expected === null) {
          expect(() => avgPool2d(x, attrs)).toThrow(TapegradError);
          return;
        }
        const [y, pullback] = vjp((t: Tensor) => avgPool2d(t, attrs), x);
        expect(y.shape).toEqual(expected.shape);
        Array.from(y.data).forEach((v, i) => expect(v).toBeCloseTo(expected.y[i]!, 12));
        const dy = tensor(
          expected.y.map((_, i) => dyAt(i)),
          { shape: y.shape, dtype: "float64" },
        );
        const [dx] = pullback(dy);
        Array.from(dx.data).forEach((v, i) => expect(v).toBeCloseTo(expected.dx[i]!, 12));
        const direct = avgPool2dBackward(dy, shape, attrs);
        expect(Array.from(direct.data)).toEqual(Array.from(dx.data));
      }),
      { numRuns: 300 },
    );
  });
});
