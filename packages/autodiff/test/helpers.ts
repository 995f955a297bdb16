import { expect } from "vitest";
import { TapegradError, tensor, type NestedArray, type Tensor } from "../src/index.js";

/** The error `fn` throws, asserted to be a TapegradError; fails the test if nothing is thrown. */
export function caught(fn: () => unknown): TapegradError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TapegradError);
    return e as TapegradError;
  }
  throw new Error("expected the call to throw");
}

/** A float64 tensor from nested arrays (or flat values and a shape). */
export const f64 = (values: NestedArray, shape?: readonly number[]): Tensor =>
  tensor(values, { dtype: "float64", shape });

/** Checks shape and every element to `digits` decimals (NaN and ±∞ must match exactly). */
export function expectValues(t: Tensor, shape: number[], values: number[], digits = 12): void {
  expect(t.shape).toEqual(shape);
  const got = Array.from(t.data);
  expect(got).toHaveLength(values.length);
  values.forEach((v, i) => {
    if (Number.isFinite(v)) expect(got[i]).toBeCloseTo(v, digits);
    else expect(got[i]).toBe(v);
  });
}

/** Asserts `f` throws a TapegradError with this code and exact message. */
export function expectError(f: () => unknown, code: string, message: string): void {
  expect(f).toThrow(expect.objectContaining({ name: "TapegradError", code, message }));
}

/** One plane as a [1, 1, H, W] float64 tensor. */
export const plane = (rows: number[][]): Tensor => tensor([[rows]], { dtype: "float64" });

/** The 4×4 max-pooling example of docs/cnn-backward.md. */
// prettier-ignore
export const seed4 = plane([
  [1, 2, 3, 3],
  [0, 1, 1, 5],
  [3, 0, 1, 0],
  [1, 4, 1, 2],
]);

/** The 6×6 max-pooling example of docs/cnn-backward.md (it has tied maxima). */
// prettier-ignore
export const seed6 = plane([
  [3, 6, 5, 4, 8, 9],
  [1, 7, 9, 6, 8, 0],
  [5, 0, 9, 6, 2, 0],
  [5, 2, 6, 3, 7, 0],
  [9, 0, 3, 2, 3, 1],
  [3, 1, 3, 7, 1, 7],
]);

/** Asserts equal shape, dtype and bits (NaN equals NaN, 0 differs from −0), naming `where`. */
export function expectSameBits(got: Tensor, want: Tensor, where = "result"): void {
  expect(got.shape, `${where}: shape`).toEqual(want.shape);
  expect(got.dtype, `${where}: dtype`).toBe(want.dtype);
  const a = got.data;
  const e = want.data;
  for (let j = 0; j < e.length; j++) {
    expect(Object.is(a[j], e[j]), `${where}, element ${j}: got ${a[j]}, expected ${e[j]}`).toBe(
      true,
    );
  }
}
