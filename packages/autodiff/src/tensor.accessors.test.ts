import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Tensor, add, isTensor, tensor, zeros } from "./index.js";
import { arbitraries } from "./testing/index.js";
import { expectTapegradError } from "../test/matchError.js";

describe("Tensor accessors", () => {
  it("item returns the single element of any one-element tensor", () => {
    expect(tensor([[4]]).item()).toBe(4);
    expect(tensor([9], { dtype: "int32" }).item()).toBe(9);
  });

  it("item throws on a tensor that is not one element, showing the shape", () => {
    expectTapegradError(
      () => tensor([1, 2]).item(),
      "INVALID_ARGUMENT",
      /^item: expected a tensor with one element, got shape \[2\]/,
    );
    expectTapegradError(() => zeros([0]).item(), "INVALID_ARGUMENT", /got shape \[0\]/);
    expectTapegradError(() => zeros([2, 3]).item(), "INVALID_ARGUMENT", /got shape \[2,3\]/);
  });

  it("data is a fresh copy: writing to it never changes the tensor", () => {
    const t = tensor([1, 2, 3]);
    const data = t.data;
    data[0] = 100;
    expect(t.data[0]).toBe(1);
    expect(t.toArray()).toEqual([1, 2, 3]);
    expect(t.data).not.toBe(t.data);
    expect(add(t, 0).toArray()).toEqual([1, 2, 3]);
    expect(tensor([1, 2], { dtype: "int32" }).data).toBeInstanceOf(Int32Array);
  });

  it("size and ndim agree with the shape", () => {
    fc.assert(
      fc.property(arbitraries.shape({ minRank: 0, maxRank: 5, minDim: 0, maxDim: 4 }), (shape) => {
        const t = zeros(shape);
        expect(t.ndim).toBe(shape.length);
        expect(t.size).toBe(shape.reduce((a, b) => a * b, 1));
        expect(t.data.length).toBe(t.size);
      }),
    );
  });

  it("toArray of a scalar is a number; toString shows dtype, shape and values", () => {
    expect(tensor(2, { dtype: "int32" }).toArray()).toBe(2);
    expect(tensor([1, 2]).toString()).toBe("Tensor(float32[2] [1,2])");
    expect(tensor([[1], [2]], { dtype: "int32" }).toString()).toBe("Tensor(int32[2,1] [[1],[2]])");
  });

  it("isTensor tells tensors from other values", () => {
    expect(isTensor(tensor(1))).toBe(true);
    expect(isTensor(1)).toBe(false);
    expect(isTensor([1])).toBe(false);
    expect(isTensor({ shape: [], data: new Float32Array(1) })).toBe(false);
    expect(tensor(1)).toBeInstanceOf(Tensor);
  });
});
