import { describe, expect, it } from "vitest";
import { exp, grad, mul, profileTape, sum, vjp, type Tensor } from "./index.js";
import { caught, f64 } from "../test/helpers.js";

const x = f64([1, 2, 3, 4]); // 32 bytes per float64 value of this shape
const chain = (v: Tensor) => sum(exp(mul(v, 0.5)));

describe("profileTape", () => {
  it("counts the outputs each recorded op keeps, once per buffer, until backward is done", () => {
    // mul and exp outputs (32 bytes each) and sum's scalar (8).
    const profile = profileTape(() => grad(chain)(x));
    expect(profile.peakBytes).toBe(32 + 32 + 8);
    expect(profile.recordedOps).toBe(3);
    // Two gradients one after the other: the first tape is done before the second records.
    expect(profileTape(() => [grad(chain)(x), grad(chain)(x)]).peakBytes).toBe(72);
    // Two pullbacks alive together: both tapes count until their backward passes run.
    const both = profileTape(() => {
      const pullbacks = [vjp(chain, x)[1], vjp(chain, x)[1]];
      return pullbacks.map((p) => p(f64(1)));
    });
    expect(both.peakBytes).toBe(144);
  });

  it("nests: an outer profile sees what an inner one measures", () => {
    const outer = profileTape(() => profileTape(() => grad(chain)(x)));
    expect(outer.value.peakBytes).toBe(72);
    expect(outer.peakBytes).toBe(72);
    expect(outer.recordedOps).toBe(3);
  });

  it("holds nothing outside any transform", () => {
    expect(profileTape(() => chain(x)).peakBytes).toBe(0);
    expect(caught(() => profileTape(42 as never)).message).toMatch(
      /^profileTape: expected a function/,
    );
  });
});
