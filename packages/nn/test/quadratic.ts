// Shared by the optimizer tests: the fixed quadratic f(w) = ½·Σ aᵢ·wᵢ², a = [2, 0.5], from
// w₀ = [1, −2]. Its gradient is a⊙w, so the first gradient is g₁ = [2, −1].
import { expect } from "vitest";
import { grad, mul, square, sum, tensor, type Tensor } from "@tapegrad/autodiff";
import type { Optimizer } from "../src/optim/optimizer.js";

const a = tensor([2, 0.5], { dtype: "float64" });
export const quadratic = (p: { w: Tensor }) => mul(sum(mul(a, square(p.w))), 0.5);
export const quadraticGrad = grad(quadratic);

/** The params after each of `steps` updates of `optimizer` on the quadratic, starting at w₀. */
export function trajectory<S>(optimizer: Optimizer<S>, steps = 3): number[][] {
  let params = { w: tensor([1, -2], { dtype: "float64" }) };
  let state = optimizer.init(params);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    [params, state] = optimizer.update(quadraticGrad(params), state, params);
    out.push(Array.from(params.w.data));
  }
  return out;
}

/** Every step's params equal the hand-derived values to 12 decimals. */
export function expectClose(got: number[][], expected: number[][]): void {
  expect(got).toHaveLength(expected.length);
  got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 12)));
}
