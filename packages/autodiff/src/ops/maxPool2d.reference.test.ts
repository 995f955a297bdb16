import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  maxPool2d,
  tensor,
  vjp,
  type MaxPool2dAttrs,
  type Tensor,
} from "../index.js";
import {
  pair,
  poolAttrs,
  poolConfigs,
  referenceMaxPool,
  type MaxPoolConfig,
} from "../../test/reference/pool.js";

// maxPool2d against test/reference/pool.ts, a naive reference, on random problems.

const configs = poolConfigs({ dilation: pair(1, 3) });

/** Values with many ties, and sometimes ±∞ or NaN. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(-Infinity, Infinity, NaN) },
);

function checkAgainstReference(c: MaxPoolConfig, values: number[]) {
  const shape = [...c.lead, ...c.size];
  const x = tensor(values, { shape, dtype: "float64" });
  const attrs: MaxPool2dAttrs = { ...poolAttrs(c), dilation: c.dilation };
  const expected = referenceMaxPool(values, c);
  if (expected === null) {
    expect(() => maxPool2d(x, attrs)).toThrow(TapegradError);
    return;
  }
  const [y, pullback] = vjp((t: Tensor) => maxPool2d(t, attrs), x);
  expect(y.shape).toEqual(expected.shape);
  expect(Array.from(y.data)).toEqual(expected.y);
  const dy = expected.y.map((_, i) => ((i * 37) % 11) - 5);
  const [dx] = pullback(tensor(dy, { shape: expected.shape, dtype: "float64" }));
  const dxExpected = new Array<number>(x.size).fill(0);
  expected.argmax.forEach((k, i) => (dxExpected[k] = dxExpected[k]! + dy[i]!));
  expect(Array.from(dx.data)).toEqual(dxExpected);
}

describe("maxPool2d against a naive reference (property)", () => {
  it("random configurations: values, shapes, gradient routing, and errors where no window fits", () => {
    fc.assert(
      fc.property(
        configs.chain((c) => {
          const size = c.lead.reduce((a, b) => a * b, 1) * c.size[0] * c.size[1];
          return fc.tuple(fc.constant(c), fc.array(value, { minLength: size, maxLength: size }));
        }),
        ([c, values]) => checkAgainstReference(c, values),
      ),
      { numRuns: 300 },
    );
  });

  it("the 2×2 stride-2 fast path (ties, ±∞, NaN; odd sizes and ceilMode)", () => {
    fc.assert(
      fc.property(
        fc
          .record({
            lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
            size: pair(2, 8),
            ceilMode: fc.boolean(),
          })
          .chain((c) => {
            const size = c.lead.reduce((a, b) => a * b, 1) * c.size[0] * c.size[1];
            const config: MaxPoolConfig = {
              ...c,
              kernel: [2, 2],
              stride: [2, 2],
              padding: [0, 0],
              dilation: [1, 1],
            };
            return fc.tuple(
              fc.constant(config),
              fc.array(value, { minLength: size, maxLength: size }),
            );
          }),
        ([c, values]) => checkAgainstReference(c, values),
      ),
      { numRuns: 300 },
    );
  });
});
