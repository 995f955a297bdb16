import { describe, expect, it } from "vitest";
import { grad, mul, square, sum, tensor, type Tensor } from "@tapegrad/autodiff";
import { rmsprop } from "./rmsprop.js";
import type { Optimizer } from "./optimizer.js";
import { trajectory, expectClose } from "../../test/quadratic.js";

describe("rmsprop", () => {
  it("divides by the root of the running mean square: w ← w − lr·g/(√v + ε)", () => {
    // lr = 0.01, α = 0.99, ε = 1e-8; v ← 0.99v + 0.01g² starts at 0 (no bias correction).
    // t=1: g = [2, −1], v = [0.04, 0.01], √v + ε = [0.20000001, 0.10000001],
    //      w₁ = [1 − 0.01·2/0.20000001, −2 + 0.01·1/0.10000001] = [0.900000005, −1.90000001].
    // t=2: g = [1.80000001, −0.950000005], v = [0.07200000036, 0.018925000095],
    //      √v + ε = [0.26832816797079523, 0.13756817526725945],
    //      w₂ = [0.8329179679700331, −1.830943340232126].
    // t=3: g = [1.6658359359400663, −0.915471670116063], v = [0.09903009401109324,
    //      0.027116633881900956], √v + ε = [0.3146904833402224, 0.16467130039969582],
    //      w₃ = [0.7799822732436351, −1.775349459094733].
    expectClose(trajectory(rmsprop({ lr: 0.01 })), [
      [0.900000005, -1.90000001],
      [0.8329179679700331, -1.830943340232126],
      [0.7799822732436351, -1.775349459094733],
    ]);
  });

  it("centered, with momentum and weight decay", () => {
    // lr = 0.01, α = 0.99, μ = 0.9, λ = 0.1: g' = a⊙w + 0.1w; ḡ ← 0.99ḡ + 0.01g';
    // avg = √(v − ḡ²) + ε; b ← 0.9b + g'/avg (b starts at 0); w ← w − 0.01·b.
    // t=1: g' = [2.1, −1.2], v = [0.0441, 0.0144], ḡ = [0.021, −0.012],
    //      avg = [√0.043659, √0.014256] + ε = [0.20894737179239029, 0.11939850245279444],
    //      b = g'/avg, w₁ = [0.8994962232840834, −1.8994962268915865].
    // t=2: g' = [1.8889420688965752, −1.1396977361349518], v = [0.07934002139647281,
    //      0.027245109297511366], avg = [0.2788647890063508, 0.1634114282743378],
    //      w₂ = [0.7413059803152443, −1.739298765567483].
    // t=3: g' = [1.556742558662013, −1.0435792593404898], v = [0.1027810951220036,
    //      0.037863234909792716], avg = [0.31586796803003653, 0.19168288481583617],
    //      w₃ = [0.5496501643993552, −1.5406780436178764].
    const optimizer = rmsprop({ lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.1 });
    expectClose(trajectory(optimizer), [
      [0.8994962232840834, -1.8994962268915865],
      [0.7413059803152443, -1.739298765567483],
      [0.5496501643993552, -1.5406780436178764],
    ]);
  });

  it("keeps only the buffers its options need", () => {
    const params = { w: tensor([1, 2]) };
    expect(Object.keys(rmsprop({ lr: 0.01 }).init(params))).toEqual(["step", "squareAvg"]);
    const full = rmsprop({ lr: 0.01, momentum: 0.5, centered: true }).init(params);
    expect(Object.keys(full)).toEqual(["step", "squareAvg", "momentumBuffer", "gradAvg"]);
  });

  it("rejects a negative alpha", () => {
    expect(() => rmsprop({ lr: 0.01, alpha: -0.5 })).toThrow(
      "rmsprop: alpha must be a finite number ≥ 0, got -0.5",
    );
  });
});
