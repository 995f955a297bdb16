import { expect } from "vitest";
import { Tensor } from "../src/index.js";

/** A tensor's values as nested arrays; takes `unknown` so gradient trees need no casts. */
export const arr = (t: unknown) => (t as Tensor).toArray();

/** A one-element tensor's value as a number. */
export const num = (t: unknown) => (t as Tensor).item();

/**
 * Checks element count and every element to `digits` decimals. `actual` is a tensor or a number;
 * `expected` a tensor, a number or nested arrays (compared flattened, in row-major order).
 */
export function expectClose(actual: unknown, expected: unknown, digits = 10): void {
  const a = actual instanceof Tensor ? Array.from(actual.data) : [actual as number];
  const e =
    expected instanceof Tensor ? Array.from(expected.data) : ([expected].flat(4) as number[]);
  expect(a.length).toBe(e.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, digits));
}
