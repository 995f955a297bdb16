import { describe, expect, it } from "vitest";
import { hessian, softmax, tensor, type Tensor } from "@tapegrad/autodiff";
import { conjugateGradients, formatIterates, newton, objective, solve } from "./newton.js";

describe("newton", () => {
  const iterates = newton();

  it("converges from (1, 1, 1) in six steps to a zero of the gradient", () => {
    expect(iterates).toHaveLength(7);
    expect(iterates[6]!.gradientNorm).toBeLessThan(1e-12);
    // The minimiser, to 9 decimals.
    iterates[6]!.x.forEach((v, i) =>
      expect(v).toBeCloseTo([-0.2727308571, 0.0976057599, -0.0109930325][i]!, 9),
    );
  });

  it("converges quadratically: each error is below the square of the one before", () => {
    const errors = iterates.map((it) => it.error);
    // 1.9, 0.67, 0.10, 4.0e-3, 7.9e-6, 1.5e-11, 0
    for (let k = 1; k <= 5; k++) expect(errors[k]!).toBeLessThan(errors[k - 1]! ** 2);
    // The digits double: 2.4 → 5.1 → 10.8 correct digits.
    expect(-Math.log10(errors[4]!)).toBeGreaterThan(2 * -Math.log10(errors[3]!));
    expect(-Math.log10(errors[5]!)).toBeGreaterThan(2 * -Math.log10(errors[4]!));
  });

  it("the matrix-free variant (conjugate gradients on hvp) takes the same steps", () => {
    const viaHvp = newton({ useHvp: true });
    expect(viaHvp).toHaveLength(iterates.length);
    viaHvp.forEach((it, k) =>
      it.x.forEach((v, i) => expect(v).toBeCloseTo(iterates[k]!.x[i]!, 12)),
    );
  });

  it("hessian gives the closed form Aᵀ(diag p − p·pᵀ)A + I, p = softmax(A·x + b)", () => {
    const A = [
      [2, -1, 0.5],
      [-1.5, 0.5, 2],
      [1, 2, -1],
      [0.5, -2, -1.5],
    ];
    const b = [0.3, -0.2, 0.1, 0.5];
    const x = [0.2, -0.4, 0.7];
    const z = A.map((row, i) => row.reduce((s, a, j) => s + a * x[j]!, b[i]!));
    const p = Array.from(softmax(tensor(z, { dtype: "float64" })).data);
    const H = hessian(objective)(tensor(x, { dtype: "float64" })) as Tensor;
    const entries = H.data;
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) {
        const mean = (f: (i: number) => number) => p.reduce((s, pi, i) => s + pi * f(i), 0);
        const cov =
          mean((i) => A[i]![j]! * A[i]![k]!) - mean((i) => A[i]![j]!) * mean((i) => A[i]![k]!);
        expect(entries[3 * j + k]).toBeCloseTo(cov + (j === k ? 1 : 0), 12);
      }
    }
  });

  it("the linear solvers agree on a small SPD system", () => {
    const M = [4, 1, 0, 1, 3, 1, 0, 1, 2];
    const g = [1, 2, 3];
    const product = (v: readonly number[]) =>
      [0, 1, 2].map((i) => [0, 1, 2].reduce((s, j) => s + M[3 * i + j]! * v[j]!, 0));
    const direct = solve(M, g);
    expect(product(direct).map((v) => Number(v.toFixed(12)))).toEqual(g);
    conjugateGradients(product, g).forEach((v, i) => expect(v).toBeCloseTo(direct[i]!, 12));
  });

  it("prints one line per iterate with the error ratio", () => {
    const lines = formatIterates(iterates);
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/^iteration 0: x = \( 1\.0+, /);
    expect(lines[4]).toMatch(/error 7\.89e-6, e\/e_prev² 0\.50$/);
    expect(lines[6]).toMatch(/error 0\.00e\+0$/);
  });
});
