import { checkGrads } from "@tapegrad/autodiff/testing";
import { add, grad, prng, sum, tensor, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { relu } from "../layers/activations.js";
import { batchNorm2d } from "../layers/batchNorm.js";
import { conv2d } from "../layers/conv.js";
import { linear } from "../layers/linear.js";
import { residual } from "./residual.js";
import { sequential } from "./sequential.js";

describe("residual", () => {
  it("adds the input to the block's output: h = x + f(x)", () => {
    const block = residual(linear({ inFeatures: 2, outFeatures: 2 }));
    const params = {
      block: {
        weight: tensor([
          [1, 0],
          [0, 2],
        ]),
        bias: tensor([1, 1]),
      },
    };
    expect(block.apply(params, tensor([[1, 2]])).toArray()).toEqual([[1 + 2, 2 + 5]]);
    expect(Object.keys(block.children!)).toEqual(["block"]);
  });

  it("sends the gradient along both paths: d(x + f(x))/dx = 1 + f'(x)", () => {
    const block = residual(linear({ inFeatures: 1, outFeatures: 1, bias: false }));
    const params = { block: { weight: tensor([[3]]) } };
    const g = grad((x: Tensor) => sum(block.apply(params, x)))(tensor([[2]]));
    expect(g.toArray()).toEqual([[4]]);
  });

  it("uses a projection shortcut with its own params and state", () => {
    const block = residual(
      sequential({
        conv: conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, padding: 1, stride: 2 }),
        bn: batchNorm2d({ numFeatures: 4 }),
        relu: relu(),
      }),
      sequential({
        conv: conv2d({ inChannels: 2, outChannels: 4, kernelSize: 1, stride: 2, bias: false }),
        bn: batchNorm2d({ numFeatures: 4 }),
      }),
    );
    const { params, state } = block.init(prng(0));
    expect(treeFlatten(state).map(([path]) => path)).toEqual([
      "block.bn.runningMean",
      "block.bn.runningVar",
      "shortcut.bn.runningMean",
      "shortcut.bn.runningVar",
    ]);
    const x = prng(1).normal([2, 2, 6, 6]);
    const [y, next] = block.applyWithState(params, state, x, { training: true });
    expect(y.shape).toEqual([2, 4, 3, 3]);
    expect(next.shortcut!.bn.runningMean.data).not.toEqual(state.shortcut!.bn.runningMean.data);
    const manual = add(
      block.children!.block!.applyWithState(params.block, state.block, x, { training: true })[0],
      block.children!.shortcut!.applyWithState(params.shortcut, state.shortcut, x, {
        training: true,
      })[0],
    );
    expect(y.data).toEqual(manual.data);
  });

  it("passes checkGrads with the identity shortcut", () => {
    const block = residual(
      sequential([
        linear({ inFeatures: 3, outFeatures: 3 }),
        relu(),
        linear({ inFeatures: 3, outFeatures: 3 }),
      ]),
    );
    const rng = prng(2);
    const { params } = block.init(rng);
    const x = rng.normal([4, 3], { dtype: "float64" });
    checkGrads((p: typeof params, v: Tensor) => block.apply(p, v), [params, x]);
  });

  it("explains a shape mismatch without a shortcut", () => {
    const block = residual(linear({ inFeatures: 2, outFeatures: 3 }));
    const { params } = block.init(prng(0));
    expect(() => block.apply(params, tensor([[1, 2]]))).toThrow(
      "residual: block output [1,3] must have the shape of its input (no shortcut) [1,2]; " +
        "pass a projection shortcut such as a 1×1 conv2d",
    );
    expect(() => residual({} as never)).toThrow("residual: block must be a layer, got an object");
  });
});
