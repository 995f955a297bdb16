import { checkGrads } from "@tapegrad/autodiff/testing";
import {
  grad,
  mul,
  prng,
  sum,
  TapegradError,
  tensor,
  zeros,
  type Tensor,
} from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import {
  learnedPositionalEmbedding,
  sinusoidalPositionalEncoding,
  sinusoidalTable,
  type LearnedPositionalParams,
} from "./positional.js";

describe("sinusoidalTable", () => {
  it("follows Attention Is All You Need §3.5: sin at even columns, cos at odd ones", () => {
    const pe = sinusoidalTable(3, 4, "float64").toArray() as number[][];
    // pos 0: sin 0 = 0, cos 0 = 1 in every pair.
    expect(pe[0]).toEqual([0, 1, 0, 1]);
    // pos 1, d = 4: column pair 0 has angle 1/10000^0 = 1, pair 1 has 1/10000^(2/4) = 0.01.
    // sin(1) = 0.8414709848078965, cos(1) = 0.5403023058681398 (A&S table 4.6).
    expect(pe[1]![0]).toBeCloseTo(0.8414709848078965, 15);
    expect(pe[1]![1]).toBeCloseTo(0.5403023058681398, 15);
    expect(pe[1]![2]).toBeCloseTo(Math.sin(0.01), 15);
    expect(pe[1]![3]).toBeCloseTo(Math.cos(0.01), 15);
    expect(pe[2]![2]).toBeCloseTo(Math.sin(0.02), 15);
    // An odd width ends with a sine column: d = 3, column 2 has angle pos/10000^(2/3).
    const odd = sinusoidalTable(2, 3, "float64").toArray() as number[][];
    expect(odd[1]![2]).toBeCloseTo(Math.sin(1 / Math.pow(10000, 2 / 3)), 15);
    expect(sinusoidalTable(2, 3).dtype).toBe("float32");
  });
});

describe("sinusoidalPositionalEncoding", () => {
  it("adds PE[:T] to [B, T, D] and [T, D] in the input's dtype; no params", () => {
    const layer = sinusoidalPositionalEncoding({ maxLength: 10, dim: 4 });
    const { params, state } = layer.init(prng(0));
    expect(params).toEqual({});
    expect(state).toEqual({});
    const pe = sinusoidalTable(10, 4, "float64");
    const x = zeros([2, 3, 4], "float64");
    const y = layer.apply(params, x);
    expect(y.dtype).toBe("float64");
    const rows = (pe.toArray() as number[][]).slice(0, 3);
    expect(y.toArray()).toEqual([rows, rows]);
    expect(layer.apply(params, zeros([3, 4], "float64")).toArray()).toEqual(rows);
    expect(layer.apply(params, zeros([3, 4])).dtype).toBe("float32");
    expect(layer.apply(params, zeros([2, 0, 4])).shape).toEqual([2, 0, 4]);
  });

  it("passes dy through to x", () => {
    const layer = sinusoidalPositionalEncoding({ maxLength: 5, dim: 2 });
    const x = prng(1).normal([2, 5, 2], { dtype: "float64" });
    const w = prng(2).normal([2, 5, 2], { dtype: "float64" });
    checkGrads((v: Tensor) => mul(layer.apply({}, v), w), [x]);
  });

  it("names the sequence length and maxLength when the table is too short", () => {
    const layer = sinusoidalPositionalEncoding({ maxLength: 4, dim: 2 });
    const call = () => layer.apply({}, zeros([1, 5, 2]));
    expect(call).toThrow(TapegradError);
    expect(call).toThrow(
      "sinusoidalPositionalEncoding: sequence length 5 is longer than maxLength 4 (x has shape " +
        "[1,5,2])",
    );
    expect(() => layer.apply({}, zeros([1, 3, 3]))).toThrow(
      "sinusoidalPositionalEncoding: x must be [B, T, 2] or [T, 2], got shape [1,3,3]",
    );
  });
});

describe("learnedPositionalEmbedding", () => {
  it("inits weight [maxLength, D] from N(0, 0.02²) and adds weight[:T]", () => {
    const layer = learnedPositionalEmbedding({ maxLength: 100, dim: 40 });
    const { params } = layer.init(prng(0));
    expect(params.weight.shape).toEqual([100, 40]);
    const w = Array.from(params.weight.data);
    const sd = Math.sqrt(w.reduce((a, b) => a + b * b, 0) / w.length);
    // 4000 draws: the sample std is within 5% of 0.02.
    expect(Math.abs(sd - 0.02)).toBeLessThan(0.001);
    const weight = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const small = learnedPositionalEmbedding({ maxLength: 3, dim: 2 });
    const x = tensor([
      [
        [10, 20],
        [30, 40],
      ],
    ]);
    expect(small.apply({ weight }, x).toArray()).toEqual([
      [
        [11, 22],
        [33, 44],
      ],
    ]);
  });

  it("sends dy summed over the batch to the first T rows; checkGrads", () => {
    const layer = learnedPositionalEmbedding({ maxLength: 4, dim: 2, dtype: "float64" });
    const { params } = layer.init(prng(3));
    const x = prng(4).normal([3, 2, 2], { dtype: "float64" });
    const g = grad((p: LearnedPositionalParams) => sum(layer.apply(p, x)))(params);
    // d sum/d weight[t] = B = 3 for the T = 2 rows used, 0 for the rest.
    expect(g.weight.toArray()).toEqual([
      [3, 3],
      [3, 3],
      [0, 0],
      [0, 0],
    ]);
    const w = prng(5).normal([3, 2, 2], { dtype: "float64" });
    checkGrads((p: LearnedPositionalParams, v: Tensor) => mul(layer.apply(p, v), w), [params, x]);
  });

  it("names the sequence length and maxLength when the table is too short", () => {
    const layer = learnedPositionalEmbedding({ maxLength: 2, dim: 2 });
    const { params } = layer.init(prng(0));
    expect(() => layer.apply(params, zeros([3, 2]))).toThrow(
      "learnedPositionalEmbedding: sequence length 3 is longer than maxLength 2 (x has shape " +
        "[3,2])",
    );
    expect(() => learnedPositionalEmbedding({ maxLength: 0, dim: 2 })).toThrow(
      "learnedPositionalEmbedding: maxLength must be a positive integer, got 0",
    );
  });
});
