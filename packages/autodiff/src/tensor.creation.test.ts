import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arange, eye, full, ones, onesLike, tensor, zeros, zerosLike } from "./index.js";
import { expectTapegradError } from "../test/matchError.js";

describe("creation functions", () => {
  it("zeros, ones and full", () => {
    const z = zeros([2, 3]);
    expect(z.dtype).toBe("float32");
    expect(z.shape).toEqual([2, 3]);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ones([2], "float64").toArray()).toEqual([1, 1]);
    expect(ones([2], "float64").dtype).toBe("float64");
    expect(ones([3], "int32").data).toBeInstanceOf(Int32Array);
    expect(full([2, 2], 7).toArray()).toEqual([
      [7, 7],
      [7, 7],
    ]);
    expect(full([], 2.5, "float64").item()).toBe(2.5);
    expect(Number.isNaN(full([1], NaN).item())).toBe(true);
    expect(full([0, 4], 1).size).toBe(0);
  });

  it("copies the shape argument", () => {
    const shape = [2, 3];
    const z = zeros(shape);
    shape[0] = 9;
    expect(z.shape).toEqual([2, 3]);
  });

  it("rejects invalid shapes, naming the function", () => {
    expectTapegradError(
      () => zeros([2, -1]),
      "INVALID_ARGUMENT",
      /^full: shape must hold non-negative integers/,
    );
    expectTapegradError(
      () => full([NaN], 1),
      "INVALID_ARGUMENT",
      /shape must hold non-negative integers/,
    );
  });

  // BUG (tensor.ts, `full`): `if (value !== 0) buffer.fill(value)` skips the fill for -0, because
  // -0 !== 0 is false, so full(shape, -0) holds +0 (1/x gives +Infinity, Object.is fails).
  // Fix: `if (!Object.is(value, 0)) buffer.fill(value)` (or always fill).
  it("full(shape, -0) holds negative zeros", () => {
    const t = full([2], -0, "float64");
    expect(Object.is(t.data[0], -0)).toBe(true);
  });

  it("zerosLike and onesLike copy shape and dtype, or take a dtype", () => {
    const x = tensor([[1, 2, 3]], { dtype: "float64" });
    const z = zerosLike(x);
    expect(z.shape).toEqual([1, 3]);
    expect(z.dtype).toBe("float64");
    expect(z.toArray()).toEqual([[0, 0, 0]]);
    const o = onesLike(x, "int32");
    expect(o.dtype).toBe("int32");
    expect(o.toArray()).toEqual([[1, 1, 1]]);
    expect(onesLike(tensor(3)).shape).toEqual([]);
    // The result never shares the shape array of its argument.
    expect(z.shape).not.toBe(x.shape);
    expect(x.toArray()).toEqual([[1, 2, 3]]);
  });

  it("arange counts from 0, from start, by step and backwards", () => {
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(arange(0, 1, 0.25, "float64").toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(0, 5, 2).toArray()).toEqual([0, 2, 4]);
    expect(arange(3, 1).shape).toEqual([0]);
    expect(arange(0).shape).toEqual([0]);
    expect(arange(3).dtype).toBe("float32");
    expect(arange(3, undefined, 1, "int32").dtype).toBe("int32");
  });

  it("arange has ceil((stop − start)/step) elements, all in [start, stop) (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        (start, stop, step, down) => {
          const s = down ? -step : step;
          const t = arange(start, stop, s, "int32");
          expect(t.size).toBe(Math.max(0, Math.ceil((stop - start) / s)));
          const values = Array.from(t.data);
          values.forEach((v, i) => {
            expect(v).toBe(start + i * s);
            if (s > 0) expect(v).toBeLessThan(stop);
            else expect(v).toBeGreaterThan(stop);
          });
        },
      ),
    );
  });

  it("arange rejects non-finite arguments and a zero step", () => {
    expectTapegradError(
      () => arange(0, 5, 0),
      "INVALID_ARGUMENT",
      /^arange: .*step non-zero, got 0, 5, 0/,
    );
    expectTapegradError(() => arange(NaN), "INVALID_ARGUMENT", /^arange:/);
    expectTapegradError(() => arange(0, Infinity), "INVALID_ARGUMENT", /^arange:/);
  });

  it("eye gives square and rectangular identities", () => {
    expect(eye(3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(eye(3, 2).toArray()).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
    ]);
    expect(eye(0).shape).toEqual([0, 0]);
    expect(eye(2, 2, "int32").dtype).toBe("int32");
    expectTapegradError(
      () => eye(-1),
      "INVALID_ARGUMENT",
      /^eye: shape must hold non-negative integers/,
    );
    expectTapegradError(() => eye(2, 1.5), "INVALID_ARGUMENT", /^eye:/);
  });
});
