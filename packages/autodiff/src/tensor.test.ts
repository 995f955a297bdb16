import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arange, full, tensor, zeros, type DType } from "./index.js";
import { arbitraries } from "./testing/index.js";
import { expectTapegradError } from "../test/matchError.js";

describe("tensor() from numbers and nested arrays", () => {
  it("a number becomes a float32 scalar", () => {
    const t = tensor(3.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.dtype).toBe("float32");
    expect(t.item()).toBe(3.5);
    expect(t.toArray()).toBe(3.5);
  });

  it("infers the shape of nested arrays in row-major order", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("handles rank 3 and singleton axes", () => {
    const t = tensor([
      [[1], [2]],
      [[3], [4]],
    ]);
    expect(t.shape).toEqual([2, 2, 1]);
    expect(t.toArray()).toEqual([
      [[1], [2]],
      [[3], [4]],
    ]);
    expect(tensor([[7]]).shape).toEqual([1, 1]);
    expect(tensor([[7]]).item()).toBe(7);
  });

  it("empty arrays give zero-size tensors", () => {
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([]).size).toBe(0);
    expect(tensor([[], []]).shape).toEqual([2, 0]);
    expect(tensor([[], []]).toArray()).toEqual([[], []]);
    expect(zeros([0, 2]).toArray()).toEqual([]);
  });

  it("float32 rounds, float64 keeps full precision", () => {
    expect(tensor(0.1).item()).toBe(Math.fround(0.1));
    expect(tensor(0.1, { dtype: "float64" }).item()).toBe(0.1);
  });

  it("int32 truncates toward zero", () => {
    const t = tensor([1.9, -1.9, 2.5, -0.4, 7], { dtype: "int32" });
    expect(t.dtype).toBe("int32");
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.data)).toEqual([1, -1, 2, 0, 7]);
    expect(full([2], 3.99, "int32").toArray()).toEqual([3, 3]);
    expect(arange(0, 2, 0.5, "int32").toArray()).toEqual([0, 0, 1, 1]);
  });

  it("the shape option reshapes flat or nested data", () => {
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { shape: [4] },
      ).toArray(),
    ).toEqual([1, 2, 3, 4]);
    expect(tensor(5, { shape: [1, 1] }).toArray()).toEqual([[5]]);
    expect(tensor([5], { shape: [] }).shape).toEqual([]);
  });

  it("copies the shape option (later mutation of the caller's array has no effect)", () => {
    const shape = [2, 2];
    const t = tensor([1, 2, 3, 4], { shape });
    shape[0] = 4;
    shape[1] = 1;
    expect(t.shape).toEqual([2, 2]);
  });

  it("copies nested array input", () => {
    const values = [1, 2, 3];
    const t = tensor(values);
    values[0] = 100;
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  it("round-trips nested arrays of any shape (property)", () => {
    const nested = (shape: readonly number[]): fc.Arbitrary<unknown> =>
      shape.length === 0
        ? fc.integer({ min: -1000, max: 1000 })
        : fc.array(nested(shape.slice(1)), { minLength: shape[0]!, maxLength: shape[0]! });
    fc.assert(
      fc.property(
        arbitraries
          .shape({ minRank: 0, maxRank: 4, minDim: 0, maxDim: 3 })
          .chain((s) => nested(s).map((v) => [s, v] as const)),
        ([shape, values]) => {
          const t = tensor(values as number[], { dtype: "float64" });
          // A zero-length axis hides the sizes after it: the inferred shape stops there.
          const zeroAt = shape.indexOf(0);
          const expected = zeroAt >= 0 ? shape.slice(0, zeroAt + 1) : shape;
          expect(t.shape).toEqual(expected);
          expect(t.size).toBe(expected.reduce((a, b) => a * b, 1));
          expect(t.ndim).toBe(expected.length);
          expect(t.toArray()).toEqual(values);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("tensor() from typed arrays", () => {
  it("copies by default; with copy: false keeps an array of its dtype as storage", () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const copied = tensor(data, { shape: [2, 2] });
    const kept = tensor(data, { shape: [2, 2], copy: false });
    expect(copied.buffer).not.toBe(data);
    expect(kept.buffer).toBe(data);
    expect(kept.shape).toEqual([2, 2]);
    // Another dtype is a conversion, so a copy whatever `copy` says; shapes are still checked.
    const converted = tensor(data, { dtype: "float64", copy: false });
    expect(converted.data).toBeInstanceOf(Float64Array);
    expect(() => tensor(data, { shape: [3], copy: false })).toThrow(
      "tensor: shape [3] needs 3 elements, got 4",
    );
  });

  it("takes the typed array's dtype and a flat shape", () => {
    const f64 = tensor(new Float64Array([1, 2, 3]));
    expect(f64.dtype).toBe("float64");
    expect(f64.shape).toEqual([3]);
    expect(tensor(new Float32Array([1, 2])).dtype).toBe("float32");
    const i32 = tensor(new Int32Array([4, 5, 6, 7]), { shape: [2, 2] });
    expect(i32.dtype).toBe("int32");
    expect(i32.toArray()).toEqual([
      [4, 5],
      [6, 7],
    ]);
  });

  it("converts to the requested dtype", () => {
    const t = tensor(new Float64Array([1.5, -2.5]), { dtype: "int32" });
    expect(t.dtype).toBe("int32");
    expect(Array.from(t.data)).toEqual([1, -2]);
    const u = tensor(new Int32Array([1, 2]), { dtype: "float64" });
    expect(u.data).toBeInstanceOf(Float64Array);
  });

  it("copies the buffer: mutating the source afterwards has no effect", () => {
    const source = new Float32Array([1, 2, 3]);
    const t = tensor(source);
    source[0] = 42;
    expect(t.data).not.toBe(source);
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
  });

  it("accepts plain readonly number arrays", () => {
    const values: readonly number[] = [1, 2];
    expect(tensor(values).toArray()).toEqual([1, 2]);
  });
});

describe("tensor() errors", () => {
  it("rejects ragged nested arrays", () => {
    expectTapegradError(
      () => tensor([[1, 2], [3]]),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged at depth 1/,
    );
    expectTapegradError(
      () => tensor([[1, 2], 3] as never),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged/,
    );
    expectTapegradError(
      () => tensor([1, [2]] as never),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged/,
    );
    expectTapegradError(
      () => tensor([[[1, 2]], [[3]]]),
      "INVALID_ARGUMENT",
      /ragged at depth 2: expected length 2/,
    );
    expectTapegradError(
      () => tensor([[], [1]]),
      "INVALID_ARGUMENT",
      /ragged at depth 1: expected length 0/,
    );
  });

  it("rejects non-number elements", () => {
    expectTapegradError(
      () => tensor(["a"] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 0 is not a number: a/,
    );
    expectTapegradError(
      () => tensor([1, null] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 1 is not a number: null/,
    );
    expectTapegradError(
      () => tensor([[1, true]] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 1 is not a number/,
    );
  });

  it("rejects a shape whose size does not match the data", () => {
    expectTapegradError(
      () => tensor([1, 2, 3], { shape: [2, 2] }),
      "INVALID_ARGUMENT",
      /^tensor: shape \[2,2\] needs 4 elements, got 3/,
    );
    expectTapegradError(
      () => tensor(1, { shape: [2] }),
      "INVALID_ARGUMENT",
      /needs 2 elements, got 1/,
    );
    expectTapegradError(
      () => tensor(new Float32Array(5), { shape: [2, 2] }),
      "INVALID_ARGUMENT",
      /got 5/,
    );
  });

  it("rejects invalid shapes and dtypes", () => {
    expectTapegradError(
      () => tensor([1, 2], { shape: [-1, 2] }),
      "INVALID_ARGUMENT",
      /^tensor: shape must hold non-negative integers, got \[-1,2\]/,
    );
    expectTapegradError(
      () => tensor([1, 2], { shape: [1.5] }),
      "INVALID_ARGUMENT",
      /^tensor: shape must hold/,
    );
    expectTapegradError(
      () => tensor([1], { dtype: "int64" as DType }),
      "INVALID_ARGUMENT",
      /^tensor: dtype must be float32, float64 or int32, got int64/,
    );
  });
});
