import { describe, expect, it } from "vitest";
import {
  add,
  checkpoint,
  grad,
  matmul,
  prng,
  stack,
  sum,
  tanh,
  vmap,
  type Tensor,
} from "./index.js";
import { f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

// A residual MLP of four blocks, with and without rematerialisation.
const rng = prng(3);
const weights = [0, 1, 2, 3].map(() => rng.normal([4, 4], { dtype: "float64" }));
const block = (h: Tensor, w: Tensor) => add(h, tanh(matmul(h, w)));
const net = (h: Tensor, ws: Tensor[], remat: boolean) => {
  for (const w of ws) h = remat ? checkpoint(block)(h, w) : block(h, w);
  return sum(h);
};
const h0 = rng.normal([2, 4], { dtype: "float64" });

describe("checkpoint", () => {
  it("is f when called", () => {
    expect(arr(checkpoint(block)(h0, weights[0]!))).toEqual(arr(block(h0, weights[0]!)));
  });

  it("gives the same gradients bit for bit, for inputs and parameters", () => {
    for (const argnums of [0, 1] as const) {
      const with_ = grad((h: Tensor, ws: Tensor[]) => net(h, ws, true), { argnums })(h0, weights);
      const without = grad((h: Tensor, ws: Tensor[]) => net(h, ws, false), { argnums })(
        h0,
        weights,
      );
      const a = Array.isArray(with_) ? with_.map((t) => arr(t)) : arr(with_);
      const b = Array.isArray(without) ? without.map((t) => arr(t)) : arr(without);
      expect(a).toEqual(b);
    }
  });

  it("differentiates twice, nests, and works under vmap", () => {
    const second = (remat: boolean) =>
      grad((h: Tensor) => sum(grad((u: Tensor) => net(u, weights, remat))(h)))(h0);
    (arr(second(true)) as number[][]).flat().forEach((v, i) => {
      expect(v).toBeCloseTo((arr(second(false)) as number[][]).flat()[i]!, 12);
    });
    const nested = checkpoint((h: Tensor) => checkpoint(block)(block(h, weights[0]!), weights[1]!));
    expect(arr(grad((h: Tensor) => sum(nested(h)))(h0))).toEqual(
      arr(grad((h: Tensor) => sum(block(block(h, weights[0]!), weights[1]!)))(h0)),
    );
    const rows = [f64([[1, 0, 0, 1]]), f64([[0, 2, 1, 0]])];
    const perExample = vmap(grad((h: Tensor) => net(h, weights, true)))(stack(rows));
    const looped = stack(rows.map(grad((h: Tensor) => net(h, weights, false))));
    expect(arr(perExample)).toEqual(arr(looped));
  });
});
