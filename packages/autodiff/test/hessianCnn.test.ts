import { describe, expect, it } from "vitest";
import {
  add,
  conv2d,
  flatten,
  gather,
  grad,
  hessian,
  hvp,
  logSoftmax,
  matmul,
  maxPool2d,
  mean,
  mul,
  neg,
  prng,
  relu,
  reshape,
  scatterAdd,
  slice,
  sum,
  tensor,
  type Tensor,
} from "../src/index.js";

// The Hessian of a small CNN's loss — conv → relu → maxpool → dense → cross-entropy, float64 —
// by hessian (jacfwd of jacrev: forward over reverse, every vjp transposed once more), against
// central differences of the reverse-mode gradient, column by column. relu and maxpool are
// piecewise linear, so the Hessian comes from the loss through them; the random data keeps every
// pre-activation and window away from kinks and ties.

const rng = prng(11);
const f64 = { dtype: "float64" as const };
const images = rng.normal([2, 1, 6, 6], f64);
const labels = [0, 2];
const base = {
  convW: rng.normal([2, 1, 2, 2], { ...f64, std: 0.7 }),
  convB: rng.normal([2], { ...f64, std: 0.1 }),
  denseW: rng.normal([8, 3], { ...f64, std: 0.7 }),
  denseB: rng.normal([3], { ...f64, std: 0.1 }),
};
type Weights = typeof base;

function loss(p: Weights): Tensor {
  let h = relu(conv2d(images, p.convW, { bias: p.convB })); // [2,2,5,5]
  h = maxPool2d(h, { kernelSize: 2 }); // [2,2,2,2]
  const logits = add(matmul(flatten(h), p.denseW), p.denseB); // [2,3]
  const picked = gather(reshape(logSoftmax(logits), [6]), [labels[0]!, 3 + labels[1]!]);
  return neg(mean(picked));
}

/** H[:, j] ≈ (∇L(θ + εe_j) − ∇L(θ − εe_j)) / 2ε, as a flat n×n array. */
function finiteDifferenceHessian(gradient: (theta: Tensor) => Tensor, theta: Tensor): number[][] {
  const eps = 1e-5;
  const n = theta.size;
  const columns = Array.from({ length: n }, (_, j) => {
    const shifted = (sign: number) => {
      const values = Float64Array.from(theta.data);
      values[j]! += sign * eps;
      return gradient(tensor(values, { shape: theta.shape, dtype: "float64" })).data;
    };
    const plus = shifted(1);
    const minus = shifted(-1);
    return Array.from(plus, (v, i) => (v - minus[i]!) / (2 * eps));
  });
  return Array.from({ length: n }, (_, i) => columns.map((column) => column[i]!));
}

function expectHessianClose(H: Tensor, numeric: number[][]): number {
  const n = numeric.length;
  let maxError = 0;
  const entries = H.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const h = entries[i * n + j]!;
      const error = Math.abs(h - numeric[i]![j]!);
      expect(error, `H[${i},${j}] = ${h}, numeric ${numeric[i]![j]}`).toBeLessThan(
        1e-6 + 1e-4 * Math.abs(numeric[i]![j]!),
      );
      // Exact symmetry is not guaranteed (different op orders), up to rounding it is.
      expect(h).toBeCloseTo(entries[j * n + i]!, 10);
      maxError = Math.max(maxError, error);
    }
  }
  return maxError;
}

describe("Hessian of a small CNN's loss", () => {
  it("with respect to a 2×1×2×2 conv weight: shape [2,1,2,2,2,1,2,2], matches differences", () => {
    const ofConv = (w: Tensor) => loss({ ...base, convW: w });
    const H = hessian(ofConv)(base.convW);
    expect(H.shape).toEqual([2, 1, 2, 2, 2, 1, 2, 2]);
    const numeric = finiteDifferenceHessian((w) => grad(ofConv)(w), base.convW);
    const maxError = expectHessianClose(H, numeric);
    expect(maxError).toBeLessThan(1e-7);
    // Not trivially zero: the loss is curved in the conv weights.
    expect(Math.max(...Array.from(H.data, Math.abs))).toBeGreaterThan(1e-2);
  });

  it("with respect to 6 parameters spread over every layer, scattered into the weights", () => {
    // θ[0..1] → convW at flat 0 and 7, θ[2] → convB[1], θ[3..4] → denseW at flat 0 and 17,
    // θ[5] → denseB[2]; the model adds the scattered θ to the base weights.
    const place = (theta: Tensor, from: number, to: number, at: number[], w: Tensor) =>
      add(w, reshape(scatterAdd(slice(theta, [from], [to]), at, [w.size]), w.shape));
    const ofTheta = (theta: Tensor) =>
      loss({
        convW: place(theta, 0, 2, [0, 7], base.convW),
        convB: place(theta, 2, 3, [1], base.convB),
        denseW: place(theta, 3, 5, [0, 17], base.denseW),
        denseB: place(theta, 5, 6, [2], base.denseB),
      });
    const theta0 = tensor([0, 0, 0, 0, 0, 0], f64);
    const H = hessian(ofTheta)(theta0);
    expect(H.shape).toEqual([6, 6]);
    const numeric = finiteDifferenceHessian((t) => grad(ofTheta)(t), theta0);
    expect(expectHessianClose(H, numeric)).toBeLessThan(1e-7);

    // hvp (forward over reverse) and reverse over reverse give the same H·v without H.
    const v = tensor([0.3, -1, 0.5, 2, -0.2, 0.7], f64);
    const [entries, vs] = [H.data, v.data];
    const Hv = Array.from({ length: 6 }, (_, i) =>
      [0, 1, 2, 3, 4, 5].reduce((s, j) => s + entries[i * 6 + j]! * vs[j]!, 0),
    );
    const [forward] = hvp(ofTheta, [theta0], [v]);
    const reverse = grad((t: Tensor) => sum(mul(grad(ofTheta)(t), v)))(theta0);
    expect(Array.from(forward.data)).toEqual(Hv.map((h) => expect.closeTo(h, 12)));
    expect(Array.from(reverse.data)).toEqual(Hv.map((h) => expect.closeTo(h, 12)));
  });
});
