import { describe, expect, it } from "vitest";
import { cumsum, grad, mul, sum, tensor, vmap, type Tensor } from "../index.js";
import { expectError, f64 } from "../../test/helpers.js";

const values = (t: Tensor) => Array.from(t.data);

// Every expected value below is worked out by hand from torch.cumsum's definition,
// y[…, i, …] = Σ_{j ≤ i} x[…, j, …] (Σ_{j ≥ i} for reverse).
describe("cumsum", () => {
  it("sums a vector forwards and backwards", () => {
    expect(values(cumsum(f64([1, 2, 3, 4]), { axis: 0 }))).toEqual([1, 3, 6, 10]);
    expect(values(cumsum(f64([1, 2, 3, 4]), { axis: -1, reverse: true }))).toEqual([10, 9, 7, 4]);
  });

  it("sums along either axis of a matrix, negative axes counting from the end", () => {
    const x = f64([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(values(cumsum(x, { axis: 0 }))).toEqual([1, 2, 3, 5, 7, 9]);
    expect(values(cumsum(x, { axis: -2 }))).toEqual([1, 2, 3, 5, 7, 9]);
    expect(values(cumsum(x, { axis: 1 }))).toEqual([1, 3, 6, 4, 9, 15]);
    expect(values(cumsum(x, { axis: -1 }))).toEqual([1, 3, 6, 4, 9, 15]);
    expect(values(cumsum(x, { axis: 0, reverse: true }))).toEqual([5, 7, 9, 4, 5, 6]);
    expect(values(cumsum(x, { axis: 1, reverse: true }))).toEqual([6, 5, 3, 15, 11, 6]);
  });

  it("sums along a middle axis, with outer and inner axes around it", () => {
    // x = 0…11 as [2, 3, 2]: block 0 is [[0,1],[2,3],[4,5]], block 1 [[6,7],[8,9],[10,11]].
    const x = tensor(
      Array.from({ length: 12 }, (_, i) => i),
      { dtype: "float64", shape: [2, 3, 2] },
    );
    const y = cumsum(x, { axis: 1 });
    expect(y.shape).toEqual([2, 3, 2]);
    expect(values(y)).toEqual([0, 1, 2, 4, 6, 9, 6, 7, 14, 16, 24, 27]);
    const back = cumsum(x, { axis: 1, reverse: true });
    expect(values(back)).toEqual([6, 9, 6, 8, 4, 5, 24, 27, 18, 20, 10, 11]);
  });

  it("takes a scalar (axis 0 or −1) and empty tensors", () => {
    const y = cumsum(f64(3), { axis: -1 });
    expect(y.shape).toEqual([]);
    expect(values(y)).toEqual([3]);
    expect(values(cumsum(f64(3), { axis: 0 }))).toEqual([3]);
    const empty = cumsum(tensor([], { dtype: "float64", shape: [2, 0] }), { axis: 1 });
    expect(empty.shape).toEqual([2, 0]);
  });

  it("keeps float32, and sums int32 as int32, wrapping as int32 addition does", () => {
    const single = cumsum(tensor([0.5, 0.25], { dtype: "float32" }), { axis: 0 });
    expect(single.dtype).toBe("float32");
    expect(values(single)).toEqual([0.5, 0.75]);
    const ints = cumsum(tensor([1, 2, 3], { dtype: "int32" }), { axis: 0 });
    expect(ints.dtype).toBe("int32");
    expect(values(ints)).toEqual([1, 3, 6]);
    // 2³¹ − 1 + 1 wraps to −2³¹.
    const wrapped = cumsum(tensor([2147483647, 1], { dtype: "int32" }), { axis: 0 });
    expect(values(wrapped)).toEqual([2147483647, -2147483648]);
  });

  it("propagates NaN and ±∞ from where they enter", () => {
    expect(values(cumsum(f64([1, NaN, 2]), { axis: 0 }))).toEqual([1, NaN, NaN]);
    expect(values(cumsum(f64([1, Infinity, 2]), { axis: 0, reverse: true }))).toEqual([
      Infinity,
      Infinity,
      2,
    ]);
  });

  it("has the cumsum of dy in the other direction as its gradient", () => {
    // d/dx_j Σ_i w_i·y_i = Σ_{i ≥ j} w_i: w = [1, 2, 3] gives [6, 5, 3]; reversed, [1, 3, 6].
    const w = f64([1, 2, 3]);
    const x = f64([0.5, -1, 2]);
    const forwards = grad((x: Tensor) => sum(mul(cumsum(x, { axis: 0 }), w)))(x);
    expect(values(forwards)).toEqual([6, 5, 3]);
    const backwards = grad((x: Tensor) => sum(mul(cumsum(x, { axis: 0, reverse: true }), w)))(x);
    expect(values(backwards)).toEqual([1, 3, 6]);
  });

  it("maps over a batch with the batch axis before or after the summed one (vmap)", () => {
    // Slices are the columns of m: [1, 3] and [2, 4].
    const m = f64([
      [1, 2],
      [3, 4],
    ]);
    const columns = vmap((x: Tensor) => cumsum(x, { axis: 0 }), { inAxes: 1 })(m);
    expect(values(columns)).toEqual([1, 4, 2, 6]);
    const rows = vmap((x: Tensor) => cumsum(x, { axis: -1, reverse: true }))(m);
    expect(values(rows)).toEqual([3, 2, 7, 4]);
    const scalars = vmap((x: Tensor) => cumsum(x, { axis: 0 }))(f64([5, 6]));
    expect(values(scalars)).toEqual([5, 6]);
  });

  it("rejects a missing or out-of-range axis and a non-boolean reverse, naming them", () => {
    const x = f64([
      [1, 2],
      [3, 4],
    ]);
    expectError(
      () => cumsum(x, {} as { axis: number }),
      "INVALID_ARGUMENT",
      "cumsum: axis must be an integer, got undefined",
    );
    expectError(
      () => cumsum(x, { axis: 1.5 }),
      "INVALID_ARGUMENT",
      "cumsum: axis must be an integer, got 1.5",
    );
    expectError(
      () => cumsum(x, { axis: 2 }),
      "INVALID_ARGUMENT",
      "cumsum: axis 2 is out of range for a tensor of rank 2",
    );
    expectError(
      () => cumsum(f64(1), { axis: 1 }),
      "INVALID_ARGUMENT",
      "cumsum: axis 1 is out of range for a scalar (0 or -1)",
    );
    expectError(
      () => cumsum(x, { axis: 0, reverse: "yes" as unknown as boolean }),
      "INVALID_ARGUMENT",
      "cumsum: reverse must be a boolean, got yes",
    );
  });
});
