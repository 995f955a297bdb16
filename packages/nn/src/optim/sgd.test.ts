import { describe, expect, it } from "vitest";
import {
  add,
  grad,
  mul,
  relu,
  sigmoid,
  square,
  sum,
  tensor,
  type Tensor,
} from "@tapegrad/autodiff";
import { mse } from "../losses.js";
import { sgd } from "./sgd.js";
import type { Optimizer } from "./optimizer.js";
import { trajectory, expectClose } from "../../test/quadratic.js";

describe("sgd", () => {
  it("plain: w ← w − lr·g", () => {
    // lr = 0.1: each wᵢ is multiplied by 1 − 0.1·aᵢ = [0.8, 0.95] per step.
    // w₁ = [0.8, −1.9], w₂ = [0.64, −1.805], w₃ = [0.512, −1.71475].
    expectClose(trajectory(sgd({ lr: 0.1 })), [
      [0.8, -1.9],
      [0.64, -1.805],
      [0.512, -1.71475],
    ]);
  });

  it("momentum: b ← g on the first step, then μb + g; w ← w − lr·b", () => {
    // lr = 0.1, μ = 0.9.
    // t=1: g = [2, −1], b = g = [2, −1] (PyTorch's first-step buffer), w₁ = [0.8, −1.9].
    // t=2: g = [1.6, −0.95], b = 0.9·[2, −1] + g = [3.4, −1.85], w₂ = [0.46, −1.715].
    // t=3: g = [0.92, −0.8575], b = 0.9·[3.4, −1.85] + g = [3.98, −2.5225],
    //      w₃ = [0.46 − 0.398, −1.715 + 0.25225] = [0.062, −1.46275].
    expectClose(trajectory(sgd({ lr: 0.1, momentum: 0.9 })), [
      [0.8, -1.9],
      [0.46, -1.715],
      [0.062, -1.46275],
    ]);
  });

  it("nesterov: w ← w − lr·(g + μb)", () => {
    // lr = 0.1, μ = 0.9.
    // t=1: g = [2, −1], b = g, d = g + 0.9b = [3.8, −1.9], w₁ = [0.62, −1.81].
    // t=2: g = [1.24, −0.905], b = 0.9·[2, −1] + g = [3.04, −1.805],
    //      d = g + 0.9b = [3.976, −2.5295], w₂ = [0.2224, −1.55705].
    // t=3: g = [0.4448, −0.778525], b = 0.9·[3.04, −1.805] + g = [3.1808, −2.403025],
    //      d = g + 0.9b = [3.30752, −2.9412475], w₃ = [−0.108352, −1.26292525].
    expectClose(trajectory(sgd({ lr: 0.1, momentum: 0.9, nesterov: true })), [
      [0.62, -1.81],
      [0.2224, -1.55705],
      [-0.108352, -1.26292525],
    ]);
  });

  it("weight decay adds λw to the gradient; dampening spares the first step", () => {
    // lr = 0.1, μ = 0.9, τ = 0.5, λ = 0.1: g' = a⊙w + 0.1w = [2.1, 0.6]⊙w.
    // t=1: g' = [2.1, −1.2], b = g' (no dampening yet), w₁ = [0.79, −1.88].
    // t=2: g' = [1.659, −1.128], b = 0.9·[2.1, −1.2] + 0.5·g' = [2.7195, −1.644],
    //      w₂ = [0.51805, −1.7156].
    // t=3: g' = [1.087905, −1.02936], b = 0.9·[2.7195, −1.644] + 0.5·g' = [2.9915025, −1.99428],
    //      w₃ = [0.21889975, −1.516172].
    const optimizer = sgd({ lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1 });
    expectClose(trajectory(optimizer), [
      [0.79, -1.88],
      [0.51805, -1.7156],
      [0.21889975, -1.516172],
    ]);
  });

  it("keeps a momentum buffer only when momentum > 0", () => {
    const params = { w: tensor([1, 2]) };
    expect(sgd({ lr: 0.1 }).init(params)).toEqual({ step: 0 });
    const state = sgd({ lr: 0.1, momentum: 0.9 }).init(params);
    expect(state.step).toBe(0);
    expect(Array.from((state.momentumBuffer as { w: Tensor }).w.data)).toEqual([0, 0]);
  });

  it("takes the SGD step of the two-neuron network in docs/cnn-backward.md", () => {
    // a = sigmoid(x·w11 + b1), y = relu(a·w21 + b2), J = ½(y − 2)², x = 1.
    const f64 = (v: number) => tensor([v], { dtype: "float64" });
    type Net = { w11: Tensor; b1: Tensor; w21: Tensor; b2: Tensor };
    const forward = (p: Net) => relu(add(mul(sigmoid(add(mul(f64(1), p.w11), p.b1)), p.w21), p.b2));
    const loss = (p: Net) => mse(forward(p), f64(2), { half: true });
    let params: Net = { w11: f64(0.5), b1: f64(0.5), w21: f64(1), b2: f64(1) };
    const optimizer = sgd({ lr: 0.1 });
    [params] = optimizer.update(grad(loss)(params), optimizer.init(params), params);
    expect(params.w11.item()).toBeCloseTo(0.505288, 6);
    expect(params.b1.item()).toBeCloseTo(0.505288, 6);
    expect(params.w21.item()).toBeCloseTo(1.019661, 6);
    expect(params.b2.item()).toBeCloseTo(1.026894, 6);
    expect(forward(params).item()).toBeCloseTo(1.774441, 6);
  });

  it("rejects nesterov without momentum, or with dampening", () => {
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(
      "sgd: nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0",
    );
    expect(() => sgd({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(
      "sgd: nesterov needs momentum > 0 and dampening 0",
    );
    expect(() => sgd({ lr: -1 })).toThrow(
      "sgd: lr must be a finite number ≥ 0 or a schedule (step) => number, got -1",
    );
    expect(() => sgd({ lr: 0.1, momentum: Number.NaN })).toThrow(
      "sgd: momentum must be a finite number ≥ 0, got NaN",
    );
  });
});
