import { describe, expect, it } from "vitest";
import {
  add,
  grad,
  matmul,
  mean,
  prng,
  square,
  sub,
  tanh,
  treeFlatten,
  type Tensor,
} from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";

type Params = { layers: { hidden: { w: Tensor; b: Tensor }; out: { w: Tensor; b: Tensor } } };

const rng = prng(7);
const f64 = { dtype: "float64" as const };
const params: Params = {
  layers: {
    hidden: { w: rng.normal([3, 5], f64), b: rng.normal([5], f64) },
    out: { w: rng.normal([5, 2], f64), b: rng.normal([2], f64) },
  },
};
const x = rng.normal([4, 3], f64);
const y = rng.normal([4, 2], f64);

function model(p: Params, input: Tensor): Tensor {
  const h = tanh(add(matmul(input, p.layers.hidden.w), p.layers.hidden.b));
  return add(matmul(h, p.layers.out.w), p.layers.out.b);
}
const loss = (p: Params) => mean(square(sub(model(p, x), y)));

describe("grad of a two-layer MLP with nested params", () => {
  it("has the params' structure, leaf by leaf", () => {
    const g = grad(loss)(params);
    const paths = treeFlatten(g).map(([path, leaf]) => [path, (leaf as Tensor).shape]);
    expect(paths).toEqual(
      treeFlatten(params).map(([path, leaf]) => [path, (leaf as Tensor).shape]),
    );
  });

  it("equals central finite differences for every element of every leaf", () => {
    const report = checkGrads(loss, [params], { atol: 1e-7, rtol: 1e-6 });
    expect(report.checked).toBe(3 * 5 + 5 + 5 * 2 + 2);
  });
});
