import { describe, expect, it } from "vitest";
import {
  add,
  grad,
  mul,
  relu,
  sigmoid,
  sub,
  tensor,
  treeMap,
  valueAndGrad,
  type Tensor,
} from "../src/index.js";

// The two-neuron network of the CNN backprop notes (SEED_NOTES.md):
// a = sigmoid(x·w11 + b1), y = relu(a·w21 + b2), J = ½(y − label)².
type Params = { w11: Tensor; b1: Tensor; w21: Tensor; b2: Tensor };
const scalar = (v: number) => tensor(v, { dtype: "float64" });
const params: Params = { w11: scalar(0.5), b1: scalar(0.5), w21: scalar(1), b2: scalar(1) };
const x = scalar(1);
const label = scalar(2);

function forward(p: Params) {
  const a = sigmoid(add(mul(x, p.w11), p.b1));
  const y = relu(add(mul(a, p.w21), p.b2));
  return { a, y };
}
function loss(p: Params) {
  const { y } = forward(p);
  const r = sub(y, label);
  return mul(0.5, mul(r, r));
}

describe("two-neuron network from the notes", () => {
  it("reproduces the forward values", () => {
    const { a, y } = forward(params);
    expect(a.item()).toBeCloseTo(0.731059, 6);
    expect(y.item()).toBeCloseTo(1.731059, 6);
  });

  it("reproduces all four gradients to 1e-6", () => {
    const g = grad(loss)(params);
    expect(g.w21.item()).toBeCloseTo(-0.196612, 6);
    expect(g.b2.item()).toBeCloseTo(-0.268941, 6);
    expect(g.w11.item()).toBeCloseTo(-0.052877, 6);
    expect(g.b1.item()).toBeCloseTo(-0.052877, 6);
  });

  it("one SGD step with α = 0.1 moves y closer to the label", () => {
    const [j0, g] = valueAndGrad(loss)(params);
    const next = treeMap((p: Tensor, d: Tensor) => sub(p, mul(0.1, d)), params, g);
    expect(next.w11.item()).toBeCloseTo(0.505288, 6);
    expect(next.b1.item()).toBeCloseTo(0.505288, 6);
    expect(next.w21.item()).toBeCloseTo(1.019661, 6);
    expect(next.b2.item()).toBeCloseTo(1.026894, 6);
    expect(forward(next).y.item()).toBeCloseTo(1.774441, 6);
    expect(loss(next).item()).toBeLessThan(j0.item());
  });
});
