import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  grad,
  mul,
  square,
  sum,
  tensor,
  treeMap,
  valueAndGrad,
  type Tensor,
  type TensorLike,
} from "./index.js";
import { arbitraries } from "./testing/index.js";
import { f64 } from "../test/helpers.js";
import { arr, num } from "../test/values.js";

describe("gradients of params trees", () => {
  it("int32 leaves get zeros, non-tensor leaves get null, numbers get number gradients", () => {
    const params = {
      w: f64([1, 2]),
      steps: tensor([4, 5], { dtype: "int32" }),
      name: "mlp",
      frozen: null,
      extra: undefined,
      flag: true,
      when: new Date(0),
      scale: 3,
      layers: [{ b: f64(0.5) }, { b: tensor(1) }],
    };
    const loss = (p: typeof params) =>
      add(
        sum(mul(mul(p.w, p.scale), cast(p.steps, "float64"))),
        mul(p.layers[0]!.b, p.layers[1]!.b),
      );
    const g = grad(loss)(params);
    expect(Object.keys(g)).toEqual(Object.keys(params));
    expect(arr(g.w)).toEqual([12, 15]);
    expect(g.steps).toBeInstanceOf(Object);
    expect((g.steps as Tensor).dtype).toBe("int32");
    expect(arr(g.steps)).toEqual([0, 0]);
    expect(g.name).toBeNull();
    expect(g.frozen).toBeNull();
    expect(g.extra).toBeNull();
    expect(g.flag).toBeNull();
    expect(g.when).toBeNull();
    expect(g.scale).toBe(14); // Σ w·steps
    expect(Array.isArray(g.layers)).toBe(true);
    expect(num(g.layers[0]!.b)).toBe(1);
    expect(num(g.layers[1]!.b)).toBe(0.5);
  });

  it("each gradient has its leaf's dtype, even when the computation promotes", () => {
    const g = grad((p: { a: Tensor; b: Tensor }) => sum(mul(p.a, p.b)))({
      a: tensor([1, 2]),
      b: f64([3, 4]),
    });
    expect(g.a.dtype).toBe("float32");
    expect(g.b.dtype).toBe("float64");
    expect(arr(g.a)).toEqual([3, 4]);
    expect(arr(g.b)).toEqual([1, 2]);
  });

  it("grad of a function of a number returns a number", () => {
    const g = grad((x: number) => mul(x, mul(x, x)))(2);
    expect(typeof g).toBe("number");
    expect(g).toBe(12);
    const [value, gs] = valueAndGrad((x: number, y: number) => mul(x, y), { argnums: [0, 1] })(
      3,
      4,
    );
    expect(num(value)).toBe(12);
    expect(gs).toEqual([4, 3]);
  });

  it("gradients mirror any params tree (property)", () => {
    const leaf = fc.oneof(
      arbitraries.anyTensor({ maxRank: 2 }, { min: -1, max: 1 }),
      fc.double({ min: -1, max: 1, noNaN: true }),
    );
    const tree: fc.Arbitrary<unknown> = fc.letrec<{ t: unknown }>((tie) => ({
      t: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("t"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom("w", "b", "conv1", "layers", "gain"), tie("t"), {
          maxKeys: 3,
        }),
      ),
    })).t;
    fc.assert(
      fc.property(tree, (params) => {
        // loss = Σ over leaves of Σ leaf², so the gradient of each leaf is 2·leaf.
        const loss = (p: unknown) => {
          let total: TensorLike = 0;
          treeMapLeaves(p, (l) => {
            total = add(total, sum(square(l as TensorLike)));
          });
          return total;
        };
        const g = grad(loss)(params);
        const pairs: [unknown, unknown][] = [];
        treeMapLeaves2(params, g, (p, d) => pairs.push([p, d]));
        for (const [p, d] of pairs) {
          if (typeof p === "number") {
            expect(typeof d).toBe("number");
            expect(d as number).toBeCloseTo(2 * p, 12);
          } else {
            const pt = p as Tensor;
            const dt = d as Tensor;
            expect(dt.shape).toEqual(pt.shape);
            expect(dt.dtype).toBe(pt.dtype);
            const twice = Array.from(pt.data, (v) => expect.closeTo(2 * v, 12));
            expect(Array.from(dt.data)).toEqual(twice);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
});

function treeMapLeaves(tree: unknown, visit: (leaf: unknown) => void): void {
  treeMap((l: unknown) => visit(l), tree);
}
function treeMapLeaves2(a: unknown, b: unknown, visit: (x: unknown, y: unknown) => void): void {
  treeMap((x: unknown, y: unknown) => visit(x, y), a, b);
}
