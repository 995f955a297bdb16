import { describe, expect, it } from "vitest";
import {
  arange,
  checkGrads,
  chunk,
  grad,
  mul,
  reshape,
  split,
  sum,
  tensor,
  vmap,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError } from "../../test/helpers.js";

const arrays = (pieces: readonly Tensor[]) => pieces.map((p) => p.toArray());
const lengths = (pieces: readonly Tensor[], axis = 0) => pieces.map((p) => p.shape[axis]);

// a = torch.arange(10).reshape(5, 2), the torch.split docs example.
const a = reshape(arange(10, undefined, 1, "float64"), [5, 2]);

describe("split", () => {
  it("cuts pieces of one size, the last one shorter (torch.split docs example)", () => {
    // torch.split(a, 2) = ([[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9]]) (torch.split docs).
    expect(arrays(split(a, 2))).toEqual([
      [
        [0, 1],
        [2, 3],
      ],
      [
        [4, 5],
        [6, 7],
      ],
      [[8, 9]],
    ]);
    expect(lengths(split(a, 5))).toEqual([5]);
    expect(lengths(split(a, 7))).toEqual([5]);
  });

  it("cuts pieces of the listed sizes (torch.split docs example)", () => {
    // torch.split(a, [1, 4]) = ([[0, 1]], [[2, 3], [4, 5], [6, 7], [8, 9]]) (torch.split docs).
    expect(arrays(split(a, [1, 4]))).toEqual([
      [[0, 1]],
      [
        [2, 3],
        [4, 5],
        [6, 7],
        [8, 9],
      ],
    ]);
    // PyTorch 1.13: torch.split(torch.arange(5.), [2, 0, 3]) has lengths 2, 0, 3.
    expect(lengths(split(arange(5), [2, 0, 3]))).toEqual([2, 0, 3]);
  });

  it("cuts along another axis, negative axes too", () => {
    const x = reshape(arange(12), [2, 6]);
    // PyTorch 1.13: torch.split(torch.arange(12).reshape(2, 6), [1, 2, 3], dim=-1).
    expect(arrays(split(x, [1, 2, 3], { axis: -1 }))).toEqual([
      [[0], [6]],
      [
        [1, 2],
        [7, 8],
      ],
      [
        [3, 4, 5],
        [9, 10, 11],
      ],
    ]);
    expect(lengths(split(x, 4, { axis: 1 }), 1)).toEqual([4, 2]);
  });

  it("gives one empty piece for an axis of length 0 (as PyTorch)", () => {
    // PyTorch 1.13: torch.split(torch.empty(0), 2) and torch.split(torch.empty(0), 0) are
    // (tensor([]),); torch.split(torch.empty(0), []) is ().
    expect(split(zeros([0, 3]), 2).map((p) => p.shape)).toEqual([[0, 3]]);
    expect(split(zeros([0, 3]), 0).map((p) => p.shape)).toEqual([[0, 3]]);
    expect(split(zeros([0, 3]), [])).toEqual([]);
  });

  it("keeps the dtype", () => {
    const ints = tensor([1, 2, 3], { dtype: "int32" });
    expect(split(ints, 2).map((p) => p.dtype)).toEqual(["int32", "int32"]);
  });

  it("sends each piece's gradient back to its place", () => {
    const x = reshape(arange(1, 7, 1, "float64"), [2, 3]);
    const dx = grad((t: Tensor) => sum(mul(split(t, [1, 2], { axis: 1 })[1]!, 2)))(x);
    // Only the second piece (columns 1–2) is used, with weight 2: column 0 gets 0, by hand.
    expect(dx.toArray()).toEqual([
      [0, 2, 2],
      [0, 2, 2],
    ]);
    checkGrads((t: Tensor) => split(t, 2, { axis: 1 }), [x], { order: 2, modes: ["rev", "fwd"] });
    checkGrads((t: Tensor) => split(t, [2, 1], { axis: -1 }), [x]);
  });

  it("works under vmap", () => {
    const x = reshape(arange(0, 6, 1, "float64"), [2, 3]);
    const [head, tail] = vmap((row: Tensor) => split(row, [1, 2]))(x);
    expect(head!.toArray()).toEqual([[0], [3]]);
    expect(tail!.toArray()).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });

  it("rejects sizes that do not fit the axis, naming sizes and the axis length", () => {
    expectError(
      () => split(a, [2, 2]),
      "SHAPE_MISMATCH",
      "split: sizes [2,2] sum to 4, but axis 0 of x (shape [5,2]) has length 5",
    );
    expectError(
      () => split(a, [2, -1, 4]),
      "INVALID_ARGUMENT",
      "split: sizes[1] must be a non-negative integer, got -1",
    );
    expectError(
      () => split(a, 1.5),
      "INVALID_ARGUMENT",
      "split: sizes must be a non-negative integer or a list of them, got 1.5",
    );
    expectError(
      () => split(a, 0, { axis: 1 }),
      "INVALID_ARGUMENT",
      "split: a split size of 0 needs an axis of length 0, but axis 1 of x (shape [5,2]) has " +
        "length 2",
    );
    expectError(
      () => split(a, 2, { axis: 2 }),
      "INVALID_ARGUMENT",
      "split: axis 2 is out of range for a tensor of rank 2",
    );
    expectError(
      () => split(3, 1),
      "SHAPE_MISMATCH",
      "split: x must have at least one axis, got a scalar (shape [])",
    );
  });
});

describe("chunk", () => {
  it("cuts ⌈n/chunks⌉-long pieces, fewer when the axis runs out (torch.chunk docs examples)", () => {
    // torch.arange(11).chunk(6) = 2, 2, 2, 2, 2, 1 elements; torch.arange(12).chunk(6) six of 2;
    // torch.arange(13).chunk(6) = [0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11], [12]: only five
    // (torch.chunk docs; PyTorch 1.13 gives the same).
    expect(lengths(chunk(arange(11), 6))).toEqual([2, 2, 2, 2, 2, 1]);
    expect(lengths(chunk(arange(12), 6))).toEqual([2, 2, 2, 2, 2, 2]);
    expect(arrays(chunk(arange(13), 6))).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
      [9, 10, 11],
      [12],
    ]);
    // PyTorch 1.13: torch.chunk(torch.arange(6.), 4) has lengths 2, 2, 2.
    expect(lengths(chunk(arange(6), 4))).toEqual([2, 2, 2]);
    expect(lengths(chunk(arange(3), 5))).toEqual([1, 1, 1]);
  });

  it("cuts along another axis, and gives `chunks` empty pieces of an empty axis", () => {
    const x = reshape(arange(12), [2, 6]);
    expect(arrays(chunk(x, 2, { axis: -1 }))).toEqual([
      [
        [0, 1, 2],
        [6, 7, 8],
      ],
      [
        [3, 4, 5],
        [9, 10, 11],
      ],
    ]);
    // PyTorch 1.13: torch.chunk(torch.empty(0), 3) is three empty tensors.
    expect(chunk(zeros([2, 0]), 3, { axis: 1 }).map((p) => p.shape)).toEqual([
      [2, 0],
      [2, 0],
      [2, 0],
    ]);
  });

  it("sends each piece's gradient back to its place", () => {
    const x = arange(1, 6, 1, "float64");
    checkGrads((t: Tensor) => chunk(t, 2), [x], { order: 2 });
    const dx = grad((t: Tensor) => sum(mul(chunk(t, 3)[1]!, 3)))(x);
    // chunk(x, 3) of 5 elements is [1, 2], [3, 4], [5]; only the middle piece is used.
    expect(dx.toArray()).toEqual([0, 0, 3, 3, 0]);
  });

  it("rejects a chunk count that is not a positive integer, naming it", () => {
    const message = (got: string) =>
      `chunk: chunks must be a positive integer (at most 2^31 − 1), got ${got}`;
    expectError(() => chunk(a, 0), "INVALID_ARGUMENT", message("0"));
    expectError(() => chunk(a, 2.5), "INVALID_ARGUMENT", message("2.5"));
    expectError(() => chunk(a, 2 ** 53), "INVALID_ARGUMENT", message(String(2 ** 53)));
    expectError(
      () => chunk(a, 2, { axis: 0.5 }),
      "INVALID_ARGUMENT",
      "chunk: axis 0.5 is out of range for a tensor of rank 2",
    );
    expectError(
      () => chunk("x" as unknown as Tensor, 2),
      "INVALID_ARGUMENT",
      "chunk: x must be a Tensor, got x",
    );
  });
});
