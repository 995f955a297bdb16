import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { forEachRow } from "./strided.js";

/** Every (output index, operand offsets) pair forEachRow visits, in order. */
function visits(shapes: number[][], outShape: number[], merge: boolean): number[][] {
  const seen: number[][] = [];
  forEachRow(
    shapes,
    outShape,
    (offsets, o, n, steps) => {
      for (let i = 0; i < n; i++) seen.push([o + i, ...offsets.map((x, k) => x + i * steps[k]!)]);
    },
    merge,
  );
  return seen;
}

/** The offsets by definition: each operand's row-major index with broadcast axes held at 0. */
function expected(shapes: number[][], outShape: number[]): number[][] {
  const size = outShape.reduce((a, b) => a * b, 1);
  return Array.from({ length: size }, (_, flat) => {
    const index: number[] = [];
    let rest = flat;
    for (let a = outShape.length - 1; a >= 0; a--) {
      index.unshift(rest % outShape[a]!);
      rest = Math.floor(rest / outShape[a]!);
    }
    return [
      flat,
      ...shapes.map((shape) => {
        const lead = outShape.length - shape.length;
        return shape.reduce((offset, d, i) => offset * d + (d === 1 ? 0 : index[lead + i]!), 0);
      }),
    ];
  });
}

describe("forEachRow", () => {
  it("visits every element with each operand's broadcast offset, axes merged or not", () => {
    const shapes = fc
      .array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 })
      .chain((out) =>
        fc
          .array(
            fc
              .tuple(...out.map(() => fc.boolean()))
              .map((keep) => out.map((d, i) => (keep[i] ? d : 1))),
            { minLength: 1, maxLength: 3 },
          )
          .map((operands) => ({ out, operands })),
      );
    fc.assert(
      fc.property(shapes, ({ out, operands }) => {
        const want = expected(operands, out);
        expect(visits(operands, out, true)).toEqual(want);
        expect(visits(operands, out, false)).toEqual(want);
      }),
    );
  });

  it("merges axes into long rows where the layouts allow", () => {
    const rows: number[] = [];
    forEachRow(
      [
        [64, 1, 6, 14, 14],
        [64, 1, 1, 1, 1],
      ],
      [64, 1, 6, 14, 14],
      (_, __, n) => rows.push(n),
    );
    expect(rows).toEqual(new Array(64).fill(6 * 14 * 14));
  });
});
