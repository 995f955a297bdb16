import { checkGrads } from "@tapegrad/autodiff/testing";
import { grad, mul, prng, sum, tensor, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { flatten } from "./flatten.js";
import { avgPool2d, globalAvgPool2d, maxPool2d } from "./pool.js";

const plane = (rows: number[][]) => tensor([[rows]]);

describe("pooling layers", () => {
  const x = plane([
    [1, 2, 3, 3],
    [0, 1, 1, 5],
    [3, 0, 1, 0],
    [1, 4, 1, 2],
  ]);

  it("reproduce docs/cnn-backward.md's 2×2 max and average vectors, without params or state", () => {
    const max = maxPool2d({ kernelSize: 2 });
    const avg = avgPool2d({ kernelSize: 2, stride: 2 });
    expect(max.init(prng(0))).toEqual({ params: {}, state: {} });
    expect(max.apply({}, x).toArray()).toEqual([
      [
        [
          [2, 5],
          [4, 2],
        ],
      ],
    ]);
    expect(avg.apply({}, x).toArray()).toEqual([
      [
        [
          [1, 3],
          [2, 1],
        ],
      ],
    ]);
  });

  it("backprop as the notes say: max to the argmax, average spread as δ/4", () => {
    const dy = plane([
      [1, 2],
      [3, 4],
    ]);
    const max = maxPool2d({ kernelSize: 2 });
    const avg = avgPool2d({ kernelSize: 2 });
    const gMax = grad((input: Tensor) => sum(mul(max.apply({}, input), dy)))(x);
    expect(gMax.toArray()).toEqual([
      [
        [
          [0, 1, 0, 0],
          [0, 0, 0, 2],
          [0, 0, 0, 0],
          [0, 3, 0, 4],
        ],
      ],
    ]);
    const gAvg = grad((input: Tensor) => sum(mul(avg.apply({}, input), dy)))(x);
    expect(gAvg.toArray()).toEqual([
      [
        [
          [0.25, 0.25, 0.5, 0.5],
          [0.25, 0.25, 0.5, 0.5],
          [0.75, 0.75, 1, 1],
          [0.75, 0.75, 1, 1],
        ],
      ],
    ]);
  });

  it("globalAvgPool2d averages each plane to [N, C, 1, 1]; flatten makes [N, C·H·W]", () => {
    const y = globalAvgPool2d().apply({}, x);
    expect(y.toArray()).toEqual([[[[28 / 16]]]]);
    const z = prng(0).normal([2, 3, 4, 5]);
    expect(flatten().apply({}, z).shape).toEqual([2, 60]);
    expect(flatten(2).apply({}, z).shape).toEqual([2, 3, 20]);
    expect(flatten(0, 1).apply({}, z).shape).toEqual([6, 4, 5]);
  });

  it("pass checkGrads (padding, overlapping windows)", () => {
    const rng = prng(1);
    const input = rng.normal([2, 2, 5, 5], { dtype: "float64" });
    const layers = [
      maxPool2d({ kernelSize: 3, stride: 2, padding: 1 }),
      avgPool2d({ kernelSize: 3, stride: 1, padding: 1, countIncludePad: false }),
      globalAvgPool2d(),
    ];
    for (const layer of layers) checkGrads((v: Tensor) => layer.apply({}, v), [input]);
  });

  it("reject bad windows when built", () => {
    expect(() => maxPool2d({ kernelSize: 0 })).toThrow(
      "maxPool2d: kernelSize must be an integer ≥ 1 or a pair of them, got 0",
    );
    expect(() => avgPool2d({ kernelSize: 2, padding: 2 })).toThrow(
      "avgPool2d: padding must be at most half of kernelSize, got padding [2,2] for kernelSize [2,2]",
    );
    expect(() => maxPool2d({ kernelSize: 2, stride: [1, 0] })).toThrow(
      "maxPool2d: stride must be an integer ≥ 1 or a pair of them, got [1,0]",
    );
    expect(() => flatten(0.5)).toThrow("flatten: startAxis must be an integer axis, got 0.5");
  });
});
