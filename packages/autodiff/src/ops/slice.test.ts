import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arange, grad, mul, reshape, slice, sum, tensor, type Tensor } from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";

// [[0,1,2,3],[4,5,6,7],[8,9,10,11]]
const x = reshape(arange(12), [3, 4]);

describe("slice", () => {
  it("takes a box given begin and end on every axis", () => {
    expect(slice(x, [1, 1], [3, 3]).toArray()).toEqual([
      [5, 6],
      [9, 10],
    ]);
  });

  it("leaves trailing axes whole when begin and end are shorter than the rank", () => {
    expect(slice(x, [2]).toArray()).toEqual([[8, 9, 10, 11]]);
    expect(slice(x, [0, 2], [2]).toArray()).toEqual([
      [2, 3],
      [6, 7],
    ]);
    expect(slice(x, []).toArray()).toEqual(x.toArray());
  });

  it("counts negative begin and end from the end of the axis", () => {
    // x[-2:, 1:-1]
    expect(slice(x, [-2, 1], [3, -1]).toArray()).toEqual([
      [5, 6],
      [9, 10],
    ]);
    expect(slice(x, [-1, -1]).toArray()).toEqual([[11]]);
  });

  it("clamps end like Python and gives empty results for end ≤ begin", () => {
    expect(slice(x, [1], [100]).shape).toEqual([2, 4]);
    expect(slice(x, [0, 0], [-100, 4]).shape).toEqual([0, 4]);
    expect(slice(x, [2, 0], [1, 4]).shape).toEqual([0, 4]);
    expect(slice(x, [3]).shape).toEqual([0, 4]);
  });

  it("keeps the dtype", () => {
    const ints = tensor([1, 2, 3], { dtype: "int32" });
    const out = slice(ints, [1]);
    expect(out.dtype).toBe("int32");
    expect(Array.from(out.data)).toEqual([2, 3]);
  });

  it("rejects out-of-range begins, too many entries and non-integers", () => {
    expect(() => slice(x, [0, 5])).toThrow(
      "slice: begin[1] = 5 is out of range for axis 1 of size 4 (expected -4 ≤ begin ≤ 4; x has " +
        "shape [3,4])",
    );
    expect(() => slice(x, [-4])).toThrow(
      "slice: begin[0] = -4 is out of range for axis 0 of size 3",
    );
    expect(() => slice(x, [0, 0, 0])).toThrow(
      "slice: begin has 3 entries but x has rank 2 (shape [3,4])",
    );
    expect(() => slice(x, [0], [1, 2, 3])).toThrow("slice: end has 3 entries but x has rank 2");
    expect(() => slice(x, [0.5])).toThrow("slice: begin[0] must be an integer, got 0.5");
    expect(() => slice(x, [0], [Infinity])).toThrow(
      "slice: end[0] must be an integer, got Infinity",
    );
  });

  it("has a gradient of dy padded with zeros", () => {
    const w = tensor([1, 2, 3, 4], { dtype: "float64", shape: [2, 2] });
    const g = grad((v: Tensor) => sum(mul(slice(v, [1, -3], [3, 3]), w)))(
      tensor(
        Array.from({ length: 12 }, (_, i) => i),
        { dtype: "float64", shape: [3, 4] },
      ),
    );
    expect(g.toArray()).toEqual([
      [0, 0, 0, 0],
      [0, 1, 2, 0],
      [0, 3, 4, 0],
    ]);
  });

  it("has a second derivative (the vjp is itself differentiable)", () => {
    const v = tensor([1, 2, 3], { dtype: "float64" });
    // h(u) = sum(grad(sum(s³))·u) with s = u[1:] is 3·Σ u_i³ over i ≥ 1, so h' = 9·u_i².
    const inner = grad((u: Tensor) => sum(mul(mul(slice(u, [1]), slice(u, [1])), slice(u, [1]))));
    const g = grad((u: Tensor) => sum(mul(inner(u), u)))(v);
    expect(Array.from(g.data)).toEqual([0, 36, 81]);
    checkGrads((u: Tensor) => slice(u, [0, 0], [-1]), [reshape(v, [3, 1])]);
  });

  it("shares x's memory exactly when the box is one run of x's elements", () => {
    const x = tensor(
      Array.from({ length: 2 * 3 * 4 }, (_, i) => i),
      { shape: [2, 3, 4] },
    );
    const shares = (t: Tensor) => t.buffer.buffer === x.buffer.buffer;
    // Rows of the leading axis, a row's columns, and a part of one row: single runs.
    expect(shares(slice(x, [1]))).toBe(true);
    expect(shares(slice(x, [0, 1], [1, 3]))).toBe(true);
    expect(shares(slice(x, [1, 2, 1], [2, 3, 3]))).toBe(true);
    // Two rows cut short, and columns of several rows: not runs.
    expect(shares(slice(x, [0, 0, 0], [2, 3, 2]))).toBe(false);
    expect(shares(slice(x, [0, 1], [2, 3]))).toBe(false);
    expect(slice(x, [1, 2, 1], [2, 3, 3]).toArray()).toEqual([[[21, 22]]]);
    expect(slice(x, [0, 1], [1, 3]).toArray()).toEqual([
      [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ],
    ]);
  });

  it("gives the same elements as a naive copy for random boxes (property)", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
          .chain((shape) =>
            fc.tuple(
              fc.constant(shape),
              fc.tuple(...shape.map((d) => fc.integer({ min: 0, max: d - 1 }))),
              fc.tuple(...shape.map((d) => fc.integer({ min: 1, max: d }))),
            ),
          ),
        ([shape, begin, lengths]) => {
          const size = shape.reduce((a, b) => a * b, 1);
          const x = tensor(
            Array.from({ length: size }, (_, i) => i),
            { shape },
          );
          const end = begin.map((b, i) => Math.min(b + lengths[i]!, shape[i]!));
          const expected: number[] = [];
          const walk = (axis: number, offset: number) => {
            if (axis === shape.length) return void expected.push(offset);
            for (let i = begin[axis]!; i < end[axis]!; i++)
              walk(axis + 1, offset * shape[axis]! + i);
          };
          walk(0, 0);
          const y = slice(x, begin, end);
          expect(y.shape).toEqual(end.map((e, i) => e - begin[i]!));
          expect(Array.from(y.data)).toEqual(expected);
        },
      ),
    );
  });
});
