import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  lstmCell,
  lstmCellBackward,
  mul,
  ones,
  prng,
  sigmoid,
  slice,
  sum,
  tanh,
  vjp,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

/** The LSTM step written with primitive ops, PyTorch's gate order i, f, g, o. */
function composedCell(gates: Tensor, c: Tensor): [Tensor, Tensor] {
  const h = c.shape[c.ndim - 1]!;
  const lead = gates.shape.slice(0, -1);
  const gate = (k: number) => slice(gates, [...lead.map(() => 0), k * h], [...lead, (k + 1) * h]);
  const cNext = add(mul(sigmoid(gate(1)), c), mul(sigmoid(gate(0)), tanh(gate(2))));
  return [mul(sigmoid(gate(3)), tanh(cNext)), cNext];
}

const maxDifference = (a: Tensor, b: Tensor) =>
  Math.max(...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]!)));

describe("lstmCell", () => {
  it("computes i, f, o = σ, g = tanh, c′ = f·c + i·g, h′ = o·tanh(c′)", () => {
    // σ(−ln 3) = 1/4, σ(ln 3) = 3/4, tanh(ln 2) = 0.6: c′ = ¾·0.2 + ¼·0.6 = 0.3 and
    // h′ = ¾·tanh(0.3) = ¾ × 0.2913126124515909.
    const ln3 = Math.log(3);
    const [h, c, acts] = lstmCell(f64([[-ln3, ln3, Math.LN2, ln3]]), f64([[0.2]]));
    expectValues(c, [1, 1], [0.3], 15);
    expectValues(h, [1, 1], [0.75 * 0.2913126124515909], 15);
    expectValues(acts, [1, 5], [0.25, 0.75, 0.6, 0.75, 0.2913126124515909], 15);
  });

  it("equals the step written with primitive ops, any leading shape, float64 and float32", () => {
    const rng = prng(3);
    for (const lead of [[], [5], [2, 3]]) {
      const gates = rng.normal([...lead, 4 * 6], { dtype: "float64", std: 2 });
      const c = rng.normal([...lead, 6], { dtype: "float64" });
      const [h, cNext] = lstmCell(gates, c);
      const [hRef, cRef] = composedCell(gates, c);
      expect(h.shape).toEqual([...lead, 6]);
      expect(maxDifference(h, hRef)).toBeLessThan(1e-15);
      expect(maxDifference(cNext, cRef)).toBeLessThan(1e-15);
      const [h32] = lstmCell(cast(gates, "float32"), cast(c, "float32"));
      expect(h32.dtype).toBe("float32");
      expect(maxDifference(h32, hRef)).toBeLessThan(1e-6);
    }
  });

  it("has the composed step's gradients (lstmCellBackward, from the activations)", () => {
    const rng = prng(4);
    const gates = rng.normal([3, 8], { dtype: "float64", std: 2 });
    const c = rng.normal([3, 2], { dtype: "float64" });
    const dh = rng.normal([3, 2], { dtype: "float64" });
    const dc = rng.normal([3, 2], { dtype: "float64" });
    const [, pullback] = vjp(composedCell, gates, c);
    const [dgatesRef, dcRef] = pullback([dh, dc]);
    const [, , acts] = lstmCell(gates, c);
    expect(acts.shape).toEqual([3, 10]);
    const [dgates, dcPrev] = lstmCellBackward(acts, c, dh, dc);
    expect(maxDifference(dgates, dgatesRef!)).toBeLessThan(1e-15);
    expect(maxDifference(dcPrev, dcRef!)).toBeLessThan(1e-15);
    // An unused output contributes nothing: only h′ feeds the loss here.
    const [, onlyH] = vjp((g: Tensor) => sum(lstmCell(g, c)[0]), gates);
    const [fromH] = lstmCellBackward(acts, c, ones([3, 2], "float64"), zeros([3, 2], "float64"));
    expect(maxDifference(onlyH(f64(1))[0]!, fromH)).toBe(0);
  });

  it("names the argument and the expected shape or dtype", () => {
    const c = zeros([2, 3], "float64");
    expectError(
      () => lstmCell(zeros([2, 10], "float64"), c),
      "SHAPE_MISMATCH",
      "lstmCell: gates must be [..., 4·hidden] (i, f, g, o stacked on the last axis), got [2,10]",
    );
    expectError(
      () => lstmCell(zeros([2, 8], "float64"), c),
      "SHAPE_MISMATCH",
      "lstmCell: c must be [2,2] for gates [2,8], got [2,3]",
    );
    expectError(
      () => lstmCell(zeros([2, 12]), c),
      "DTYPE_MISMATCH",
      "lstmCell: c is float64 but gates is float32: they must match",
    );
    expectError(
      () => lstmCellBackward(zeros([2, 15], "float64"), c, c, zeros([3, 3], "float64")),
      "SHAPE_MISMATCH",
      "lstmCellBackward: dcNext must be [2,3] for acts [2,15], got [3,3]",
    );
    expectError(
      () => lstmCellBackward(zeros([2, 12], "float64"), c, c, c),
      "SHAPE_MISMATCH",
      "lstmCellBackward: acts must be [..., 5·hidden] (i, f, g, o, tanh(c′) stacked on the last " +
        "axis), got [2,12]",
    );
  });
});
