import { describe, expect, it } from "vitest";
import { cube } from "../test/custom-ops/cube.js";
import {
  add,
  conv2d,
  flatten,
  grad,
  logSoftmax,
  maxPool2d,
  neg,
  oneHot,
  prng,
  relu,
  reshape,
  slice,
  hvp,
  jvp,
  matmul,
  mul,
  sin,
  stack,
  sum,
  tanh,
  valueAndGrad,
  vjp,
  vmap,
  type Tensor,
} from "./index.js";
import { checkGrads } from "./testing/index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

const x = f64([
  [1, 2, 3],
  [4, 5, 6],
]);

/** Slice b of a batch along axis 0. */
const row = (t: Tensor, b: number) => reshape(slice(t, [b], [b + 1]), t.shape.slice(1));

describe("vmap", () => {
  it("maps along the axis asked for, and puts the batch where outAxes says", () => {
    expect(arr(vmap((v: Tensor) => sum(v))(x))).toEqual([6, 15]);
    expect(arr(vmap((v: Tensor) => sum(v), { inAxes: 1 })(x))).toEqual([5, 7, 9]);
    expect(arr(vmap((v: Tensor) => sum(v), { inAxes: -1 })(x))).toEqual([5, 7, 9]);
    const doubled = vmap((v: Tensor) => mul(v, 2), { inAxes: 1, outAxes: 1 })(x);
    expect(arr(doubled)).toEqual(arr(mul(x, 2)));
  });

  it("takes trees, shares unmapped arguments, and broadcasts outputs that do not vary", () => {
    const params = { w: f64([1, -1, 2]), b: f64(0.5) };
    const f = (p: typeof params, v: Tensor) => add(sum(mul(p.w, v)), p.b);
    expect(arr(vmap(f, { inAxes: [null, 0] })(params, x))).toEqual([5.5, 11.5]);
    const perParam = vmap(f, { inAxes: [{ w: 0, b: null }, null] })(
      { w: x, b: params.b },
      f64([1, 1, 1]),
    );
    expect(arr(perParam)).toEqual([6.5, 15.5]);
    expect(arr(vmap(() => f64(7), { inAxes: [], axisSize: 3 })())).toEqual([7, 7, 7]);
    expect(arr(vmap((v: Tensor, c: Tensor) => c, { inAxes: [0, null] })(x, f64(2)))).toEqual([
      2, 2,
    ]);
  });

  it("nests: vmap of vmap maps two axes", () => {
    const outer = vmap(
      vmap((a: Tensor, b: Tensor) => mul(a, b), { inAxes: [null, 0] }),
      { inAxes: [0, null] },
    )(f64([1, 2]), f64([10, 20, 30]));
    expect(arr(outer)).toEqual([
      [10, 20, 30],
      [20, 40, 60],
    ]);
  });

  it("runs ops without a batching rule by looping over the slices", () => {
    // cube (a user op in test/custom-ops) has no batching rule.
    expect(arr(vmap((v: Tensor) => cube(v))(x))).toEqual(arr(cube(x)));
  });
});

describe("vmap with the other transforms", () => {
  const p = f64([0.5, 1, 2]);
  const loss = (p: Tensor, v: Tensor) => sum(mul(tanh(mul(p, v)), v));

  it("vmap(grad) gives per-example gradients, equal to one grad per example", () => {
    const perExample = vmap(grad(loss), { inAxes: [null, 0] })(p, x);
    const looped = stack([0, 1].map((b) => grad(loss)(p, row(x, b))));
    expect(arr(perExample)).toEqual(arr(looped));
    const [values, grads] = vmap(valueAndGrad(loss), { inAxes: [null, 0] })(p, x);
    expect(arr(values)).toEqual([0, 1].map((b) => loss(p, row(x, b)).item()));
    expect(arr(grads)).toEqual(arr(looped));
  });

  it("a CNN's per-example gradients equal one grad per example (float64)", () => {
    const rng = prng(5);
    const params = {
      c: rng.normal([3, 1, 3, 3], { dtype: "float64" }),
      f: rng.normal([4, 27], { dtype: "float64" }),
    };
    type P = typeof params;
    const lossOf = (p: P, image: Tensor, label: Tensor) => {
      let h = maxPool2d(relu(conv2d(reshape(image, [1, 1, 8, 8]), p.c)), { kernelSize: 2 });
      h = matmul(flatten(h), p.f, { transB: true });
      return neg(sum(mul(logSoftmax(h), label)));
    };
    const images = rng.normal([4, 8, 8], { dtype: "float64" });
    const labels = oneHot([0, 3, 1, 2], 4, "float64");
    const perExample = vmap(grad(lossOf), { inAxes: [null, 0, 0] })(params, images, labels);
    for (let b = 0; b < 4; b++) {
      const one = grad(lossOf)(params, row(images, b), row(labels, b));
      for (const key of ["c", "f"] as const) {
        const got = (perExample[key].data as Float64Array).subarray(
          b * one[key].size,
          (b + 1) * one[key].size,
        );
        Array.from(one[key].data).forEach((v, i) =>
          expect(Math.abs(got[i]! - v)).toBeLessThan(1e-10),
        );
      }
    }
  });

  it("grad of a function that uses vmap inside is the gradient of the batch's sum", () => {
    const batched = grad((p: Tensor) => sum(vmap((v: Tensor) => loss(p, v))(x)))(p);
    const summed = grad((p: Tensor) => add(loss(p, row(x, 0)), loss(p, row(x, 1))))(p);
    (arr(batched) as number[]).forEach((g, i) =>
      expect(g).toBeCloseTo((arr(summed) as number[])[i]!, 14),
    );
  });

  it("composes with vjp, jvp and hvp in both orders", () => {
    const f = (v: Tensor) => sin(mul(v, v));
    const [ys, pullback] = vjp(vmap(f), x);
    expect(arr(ys)).toEqual(arr(f(x)));
    expect(
      arr(
        pullback(
          f64([
            [1, 1, 1],
            [1, 1, 1],
          ]),
        )[0],
      ),
    ).toEqual(
      arr(
        vjp(f, x)[1](
          f64([
            [1, 1, 1],
            [1, 1, 1],
          ]),
        )[0],
      ),
    );
    const tangents = f64([
      [1, 0, 2],
      [0, 1, 1],
    ]);
    const [, forward] = jvp(vmap(f), [x], [tangents]);
    const perRow = vmap((v: Tensor, t: Tensor) => jvp(f, [v], [t])[1])(x, tangents);
    expect(arr(forward)).toEqual(arr(perRow));
    const h = vmap((v: Tensor) => hvp((u: Tensor) => sum(f(u)), [v], [f64([1, 1, 1])])[0])(x);
    const hLooped = stack(
      [0, 1].map((b) => hvp((u: Tensor) => sum(f(u)), [row(x, b)], [f64([1, 1, 1])])[0]),
    );
    expect(arr(h)).toEqual(arr(hLooped));
  });

  it("checkGrads verifies a vmapped function, and a function of per-example gradients", () => {
    const w = f64([
      [1, -1],
      [0.5, 2],
      [-1, 1],
    ]);
    const model = (w: Tensor, v: Tensor) => sum(tanh(matmul(v, w)));
    expect(() =>
      checkGrads((w: Tensor) => sum(vmap((v: Tensor) => model(w, v))(x)), [w]),
    ).not.toThrow();
    const perExampleNorm = (w: Tensor) =>
      sum(mul(vmap(grad(model), { inAxes: [null, 0] })(w, x), 1));
    expect(() => checkGrads(perExampleNorm, [w], { order: 1 })).not.toThrow();
  });
});

describe("vmap's errors name the transform, the argument and what was expected", () => {
  const id = (v: Tensor) => v;

  it("inAxes that do not fit the arguments", () => {
    expect(caught(() => vmap(id, { inAxes: [0, 0] })(x)).message).toBe(
      "vmap: inAxes has 2 entries but the function got 1 arguments (give one entry per " +
        "argument, or one number or null for all)",
    );
    const tree = caught(() => vmap((t: { a: Tensor }) => t.a, { inAxes: [{ b: 0 }] })({ a: x }));
    expect(tree.message).toMatch(
      /^vmap: the axes given for args\[0\] \(.*\) do not match its structure/,
    );
    expect(caught(() => vmap(id, { inAxes: 2 })(x)).message).toBe(
      "vmap: args[0] has shape [2,3]: axis 2 is out of range (expected an integer from -2 to 1)",
    );
    expect(caught(() => vmap(id)(f64(3))).message).toBe(
      "vmap: args[0] is a scalar: it has no axis 0 to map over",
    );
    expect(caught(() => vmap((n: number) => f64(n))(2)).message).toMatch(
      /^vmap: args\[0\] is 2, not a tensor: it cannot be mapped/,
    );
  });

  it("mapped arguments of different sizes, or none mapped without axisSize", () => {
    expect(caught(() => vmap((a: Tensor, b: Tensor) => add(a, b))(x, f64([1, 2, 3]))).message).toBe(
      "vmap: args[1] has 3 slices along axis 0 but args[0] has 2: every mapped argument " +
        "needs the same batch size",
    );
    expect(caught(() => vmap(id, { inAxes: null })(x)).message).toBe(
      "vmap: no argument is mapped (every inAxes is null): give axisSize",
    );
  });

  it("reading a mapped tensor's values inside the function, or a null outAxes for it", () => {
    expect(caught(() => vmap((v: Tensor) => f64(v.item()))(f64([1, 2]))).message).toMatch(
      /^item: this tensor is mapped by vmap/,
    );
    expect(caught(() => vmap(id, { outAxes: null })(x)).message).toBe(
      "vmap: output differs between slices, so its outAxes entry cannot be null",
    );
  });
});
