import { describe, expect, it } from "vitest";
import {
  add,
  avgPool2d,
  conv2d,
  flatten,
  grad,
  matmul,
  maxPool2d,
  prng,
  relu,
  sum,
  treeFlatten,
  type Tensor,
} from "../src/index.js";
import { checkGrads } from "../src/testing/index.js";

// conv → relu → maxpool → conv → relu → avgpool → flatten → matmul, in float64. Its backward pass
// comes only from the ops' vjps; checkGrads compares every parameter's gradient with finite
// differences.
type Params = {
  conv1: { w: Tensor; b: Tensor };
  conv2: { w: Tensor; b: Tensor };
  dense: { w: Tensor; b: Tensor };
};

const rng = prng(3);
const f64 = { dtype: "float64" as const };
const params: Params = {
  conv1: { w: rng.normal([3, 1, 3, 3], { ...f64, std: 0.5 }), b: rng.normal([3], f64) },
  conv2: { w: rng.normal([4, 3, 2, 2], { ...f64, std: 0.5 }), b: rng.normal([4], f64) },
  dense: { w: rng.normal([4, 5], f64), b: rng.normal([5], f64) },
};
const images = rng.normal([2, 1, 10, 10], f64);

function lenet(p: Params, x: Tensor): Tensor {
  let h = relu(conv2d(x, p.conv1.w, { bias: p.conv1.b })); // [2,3,8,8]
  h = maxPool2d(h, { kernelSize: 2 }); // [2,3,4,4]
  h = relu(conv2d(h, p.conv2.w, { bias: p.conv2.b })); // [2,4,3,3]
  h = avgPool2d(h, { kernelSize: 2, stride: 1 }); // [2,4,2,2]
  h = avgPool2d(h, { kernelSize: 2 }); // [2,4,1,1]
  return add(matmul(flatten(h), p.dense.w), p.dense.b); // [2,5]
}

const loss = (p: Params, x: Tensor) => sum(lenet(p, x));

describe("a LeNet-shaped composition", () => {
  it("has gradients of the params' structure", () => {
    const g = grad(loss)(params, images);
    expect(treeFlatten(g).map(([path]) => path)).toEqual(treeFlatten(params).map(([path]) => path));
  });

  it("passes checkGrads end to end, params and input", () => {
    // relu kinks and max-pool ties are measure-zero for these random normal values.
    const report = checkGrads((p: Params, x: Tensor) => lenet(p, x), [params, images], {
      seed: 11,
    });
    expect(report.checked).toBe(27 + 3 + 48 + 4 + 20 + 5 + 200);
  });
});
