import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  gruCell,
  gruCellBackward,
  mul,
  prng,
  sigmoid,
  slice,
  sub,
  tanh,
  vjp,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

/** The GRU step written with primitive ops, PyTorch's gate order r, z, n. */
function composedCell(xs: Tensor, hs: Tensor, h: Tensor): Tensor {
  const width = h.shape[h.ndim - 1]!;
  const lead = xs.shape.slice(0, -1);
  const block = (t: Tensor, k: number) =>
    slice(t, [...lead.map(() => 0), k * width], [...lead, (k + 1) * width]);
  const r = sigmoid(add(block(xs, 0), block(hs, 0)));
  const z = sigmoid(add(block(xs, 1), block(hs, 1)));
  const n = tanh(add(block(xs, 2), mul(r, block(hs, 2))));
  return add(mul(sub(1, z), n), mul(z, h));
}

const maxDifference = (a: Tensor, b: Tensor) =>
  Math.max(...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]!)));

describe("gruCell", () => {
  it("computes r, z = σ, n = tanh(x_n + r·h_n), h′ = (1 − z)·n + z·h", () => {
    // r = σ(ln 3) = 3/4, z = σ(−ln 3) = 1/4, n = tanh(ln 2) = 0.6 with x_n + ¾·h_n = ln 2:
    // h′ = ¾ × 0.6 + ¼ × 0.2 = 0.5.
    const ln3 = Math.log(3);
    const [h, acts] = gruCell(
      f64([[ln3 / 2, -ln3, Math.LN2 / 2]]),
      f64([[ln3 / 2, 0, (2 / 3) * Math.LN2]]),
      f64([[0.2]]),
    );
    expectValues(h, [1, 1], [0.5], 15);
    expectValues(acts, [1, 3], [0.75, 0.25, 0.6], 15);
  });

  it("equals the step written with primitive ops, any leading shape, float64 and float32", () => {
    const rng = prng(5);
    for (const lead of [[], [4], [2, 3]]) {
      const xs = rng.normal([...lead, 3 * 5], { dtype: "float64", std: 2 });
      const hs = rng.normal([...lead, 3 * 5], { dtype: "float64", std: 2 });
      const h = rng.normal([...lead, 5], { dtype: "float64" });
      const [hNext] = gruCell(xs, hs, h);
      const reference = composedCell(xs, hs, h);
      expect(hNext.shape).toEqual([...lead, 5]);
      expect(maxDifference(hNext, reference)).toBeLessThan(1e-15);
      const [h32] = gruCell(cast(xs, "float32"), cast(hs, "float32"), cast(h, "float32"));
      expect(maxDifference(h32, reference)).toBeLessThan(1e-6);
    }
  });

  it("has the composed step's gradients (gruCellBackward, from the activations)", () => {
    const rng = prng(6);
    const xs = rng.normal([3, 6], { dtype: "float64", std: 2 });
    const hs = rng.normal([3, 6], { dtype: "float64", std: 2 });
    const h = rng.normal([3, 2], { dtype: "float64" });
    const dh = rng.normal([3, 2], { dtype: "float64" });
    const [, pullback] = vjp(composedCell, xs, hs, h);
    const expected = pullback(dh);
    const [, acts] = gruCell(xs, hs, h);
    const actual = gruCellBackward(acts, hs, h, dh);
    actual.forEach((g, i) => expect(maxDifference(g, expected[i]!)).toBeLessThan(1e-15));
  });

  it("names the argument and the expected shape or dtype", () => {
    const h = zeros([2, 3], "float64");
    expectError(
      () => gruCell(zeros([2, 8], "float64"), zeros([2, 8], "float64"), h),
      "SHAPE_MISMATCH",
      "gruCell: xs must be [..., 3·hidden] (r, z, n stacked on the last axis), got [2,8]",
    );
    expectError(
      () => gruCell(zeros([2, 9], "float64"), zeros([2, 6], "float64"), h),
      "SHAPE_MISMATCH",
      "gruCell: hs must be [2,9] for xs [2,9], got [2,6]",
    );
    expectError(
      () => gruCell(zeros([2, 9], "float64"), zeros([2, 9]), h),
      "DTYPE_MISMATCH",
      "gruCell: hs is float32 but xs is float64: they must match",
    );
  });
});
