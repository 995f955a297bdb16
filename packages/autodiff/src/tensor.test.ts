import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Tensor,
  TapegradError,
  abs,
  add,
  arange,
  broadcastTo,
  cast,
  div,
  equal,
  exp,
  expandDims,
  eye,
  flatten,
  full,
  grad,
  greater,
  isTensor,
  leakyRelu,
  log,
  maximum,
  mean,
  minimum,
  mul,
  neg,
  ones,
  onesLike,
  pow,
  relu,
  reshape,
  sigmoid,
  sin,
  sqrt,
  square,
  squeeze,
  sub,
  sum,
  tanh,
  tensor,
  transpose,
  valueAndGrad,
  vjp,
  where,
  zeros,
  zerosLike,
  type DType,
} from "./index.js";
import { arbitraries } from "./testing/index.js";

/** Asserts `fn` throws a TapegradError with `code` whose message matches `message`. */
function expectTapegradError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an error").toBeInstanceOf(TapegradError);
  expect((caught as TapegradError).code).toBe(code);
  expect((caught as TapegradError).message).toMatch(message);
}

describe("tensor() from numbers and nested arrays", () => {
  it("a number becomes a float32 scalar", () => {
    const t = tensor(3.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.dtype).toBe("float32");
    expect(t.item()).toBe(3.5);
    expect(t.toArray()).toBe(3.5);
  });

  it("infers the shape of nested arrays in row-major order", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("handles rank 3 and singleton axes", () => {
    const t = tensor([
      [[1], [2]],
      [[3], [4]],
    ]);
    expect(t.shape).toEqual([2, 2, 1]);
    expect(t.toArray()).toEqual([
      [[1], [2]],
      [[3], [4]],
    ]);
    expect(tensor([[7]]).shape).toEqual([1, 1]);
    expect(tensor([[7]]).item()).toBe(7);
  });

  it("empty arrays give zero-size tensors", () => {
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([]).size).toBe(0);
    expect(tensor([[], []]).shape).toEqual([2, 0]);
    expect(tensor([[], []]).toArray()).toEqual([[], []]);
    expect(zeros([0, 2]).toArray()).toEqual([]);
  });

  it("float32 rounds, float64 keeps full precision", () => {
    expect(tensor(0.1).item()).toBe(Math.fround(0.1));
    expect(tensor(0.1, { dtype: "float64" }).item()).toBe(0.1);
  });

  it("int32 truncates toward zero", () => {
    const t = tensor([1.9, -1.9, 2.5, -0.4, 7], { dtype: "int32" });
    expect(t.dtype).toBe("int32");
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.data)).toEqual([1, -1, 2, 0, 7]);
    expect(full([2], 3.99, "int32").toArray()).toEqual([3, 3]);
    expect(arange(0, 2, 0.5, "int32").toArray()).toEqual([0, 0, 1, 1]);
  });

  it("the shape option reshapes flat or nested data", () => {
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { shape: [4] },
      ).toArray(),
    ).toEqual([1, 2, 3, 4]);
    expect(tensor(5, { shape: [1, 1] }).toArray()).toEqual([[5]]);
    expect(tensor([5], { shape: [] }).shape).toEqual([]);
  });

  it("copies the shape option (later mutation of the caller's array has no effect)", () => {
    const shape = [2, 2];
    const t = tensor([1, 2, 3, 4], { shape });
    shape[0] = 4;
    shape[1] = 1;
    expect(t.shape).toEqual([2, 2]);
  });

  it("copies nested array input", () => {
    const values = [1, 2, 3];
    const t = tensor(values);
    values[0] = 100;
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  it("round-trips nested arrays of any shape (property)", () => {
    const nested = (shape: readonly number[]): fc.Arbitrary<unknown> =>
      shape.length === 0
        ? fc.integer({ min: -1000, max: 1000 })
        : fc.array(nested(shape.slice(1)), { minLength: shape[0]!, maxLength: shape[0]! });
    fc.assert(
      fc.property(
        arbitraries
          .shape({ minRank: 0, maxRank: 4, minDim: 0, maxDim: 3 })
          .chain((s) => nested(s).map((v) => [s, v] as const)),
        ([shape, values]) => {
          const t = tensor(values as number[], { dtype: "float64" });
          // A zero-length axis hides the sizes after it: the inferred shape stops there.
          const zeroAt = shape.indexOf(0);
          const expected = zeroAt >= 0 ? shape.slice(0, zeroAt + 1) : shape;
          expect(t.shape).toEqual(expected);
          expect(t.size).toBe(expected.reduce((a, b) => a * b, 1));
          expect(t.ndim).toBe(expected.length);
          expect(t.toArray()).toEqual(values);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("tensor() from typed arrays", () => {
  it("copies by default; with copy: false keeps an array of its dtype as storage", () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const copied = tensor(data, { shape: [2, 2] });
    const kept = tensor(data, { shape: [2, 2], copy: false });
    expect(copied.buffer).not.toBe(data);
    expect(kept.buffer).toBe(data);
    expect(kept.shape).toEqual([2, 2]);
    // Another dtype is a conversion, so a copy whatever `copy` says; shapes are still checked.
    const converted = tensor(data, { dtype: "float64", copy: false });
    expect(converted.data).toBeInstanceOf(Float64Array);
    expect(() => tensor(data, { shape: [3], copy: false })).toThrow(
      "tensor: shape [3] needs 3 elements, got 4",
    );
  });

  it("takes the typed array's dtype and a flat shape", () => {
    const f64 = tensor(new Float64Array([1, 2, 3]));
    expect(f64.dtype).toBe("float64");
    expect(f64.shape).toEqual([3]);
    expect(tensor(new Float32Array([1, 2])).dtype).toBe("float32");
    const i32 = tensor(new Int32Array([4, 5, 6, 7]), { shape: [2, 2] });
    expect(i32.dtype).toBe("int32");
    expect(i32.toArray()).toEqual([
      [4, 5],
      [6, 7],
    ]);
  });

  it("converts to the requested dtype", () => {
    const t = tensor(new Float64Array([1.5, -2.5]), { dtype: "int32" });
    expect(t.dtype).toBe("int32");
    expect(Array.from(t.data)).toEqual([1, -2]);
    const u = tensor(new Int32Array([1, 2]), { dtype: "float64" });
    expect(u.data).toBeInstanceOf(Float64Array);
  });

  it("copies the buffer: mutating the source afterwards has no effect", () => {
    const source = new Float32Array([1, 2, 3]);
    const t = tensor(source);
    source[0] = 42;
    expect(t.data).not.toBe(source);
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
  });

  it("accepts plain readonly number arrays", () => {
    const values: readonly number[] = [1, 2];
    expect(tensor(values).toArray()).toEqual([1, 2]);
  });
});

describe("tensor() errors", () => {
  it("rejects ragged nested arrays", () => {
    expectTapegradError(
      () => tensor([[1, 2], [3]]),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged at depth 1/,
    );
    expectTapegradError(
      () => tensor([[1, 2], 3] as never),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged/,
    );
    expectTapegradError(
      () => tensor([1, [2]] as never),
      "INVALID_ARGUMENT",
      /^tensor: nested arrays are ragged/,
    );
    expectTapegradError(
      () => tensor([[[1, 2]], [[3]]]),
      "INVALID_ARGUMENT",
      /ragged at depth 2: expected length 2/,
    );
    expectTapegradError(
      () => tensor([[], [1]]),
      "INVALID_ARGUMENT",
      /ragged at depth 1: expected length 0/,
    );
  });

  it("rejects non-number elements", () => {
    expectTapegradError(
      () => tensor(["a"] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 0 is not a number: a/,
    );
    expectTapegradError(
      () => tensor([1, null] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 1 is not a number: null/,
    );
    expectTapegradError(
      () => tensor([[1, true]] as never),
      "INVALID_ARGUMENT",
      /^tensor: element 1 is not a number/,
    );
  });

  it("rejects a shape whose size does not match the data", () => {
    expectTapegradError(
      () => tensor([1, 2, 3], { shape: [2, 2] }),
      "INVALID_ARGUMENT",
      /^tensor: shape \[2,2\] needs 4 elements, got 3/,
    );
    expectTapegradError(
      () => tensor(1, { shape: [2] }),
      "INVALID_ARGUMENT",
      /needs 2 elements, got 1/,
    );
    expectTapegradError(
      () => tensor(new Float32Array(5), { shape: [2, 2] }),
      "INVALID_ARGUMENT",
      /got 5/,
    );
  });

  it("rejects invalid shapes and dtypes", () => {
    expectTapegradError(
      () => tensor([1, 2], { shape: [-1, 2] }),
      "INVALID_ARGUMENT",
      /^tensor: shape must hold non-negative integers, got \[-1,2\]/,
    );
    expectTapegradError(
      () => tensor([1, 2], { shape: [1.5] }),
      "INVALID_ARGUMENT",
      /^tensor: shape must hold/,
    );
    expectTapegradError(
      () => tensor([1], { dtype: "int64" as DType }),
      "INVALID_ARGUMENT",
      /^tensor: dtype must be float32, float64 or int32, got int64/,
    );
  });
});

describe("creation functions", () => {
  it("zeros, ones and full", () => {
    const z = zeros([2, 3]);
    expect(z.dtype).toBe("float32");
    expect(z.shape).toEqual([2, 3]);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ones([2], "float64").toArray()).toEqual([1, 1]);
    expect(ones([2], "float64").dtype).toBe("float64");
    expect(ones([3], "int32").data).toBeInstanceOf(Int32Array);
    expect(full([2, 2], 7).toArray()).toEqual([
      [7, 7],
      [7, 7],
    ]);
    expect(full([], 2.5, "float64").item()).toBe(2.5);
    expect(Number.isNaN(full([1], NaN).item())).toBe(true);
    expect(full([0, 4], 1).size).toBe(0);
  });

  it("copies the shape argument", () => {
    const shape = [2, 3];
    const z = zeros(shape);
    shape[0] = 9;
    expect(z.shape).toEqual([2, 3]);
  });

  it("rejects invalid shapes, naming the function", () => {
    expectTapegradError(
      () => zeros([2, -1]),
      "INVALID_ARGUMENT",
      /^full: shape must hold non-negative integers/,
    );
    expectTapegradError(
      () => full([NaN], 1),
      "INVALID_ARGUMENT",
      /shape must hold non-negative integers/,
    );
  });

  // BUG (tensor.ts, `full`): `if (value !== 0) buffer.fill(value)` skips the fill for -0, because
  // -0 !== 0 is false, so full(shape, -0) holds +0 (1/x gives +Infinity, Object.is fails).
  // Fix: `if (!Object.is(value, 0)) buffer.fill(value)` (or always fill).
  it("full(shape, -0) holds negative zeros", () => {
    const t = full([2], -0, "float64");
    expect(Object.is(t.data[0], -0)).toBe(true);
  });

  it("zerosLike and onesLike copy shape and dtype, or take a dtype", () => {
    const x = tensor([[1, 2, 3]], { dtype: "float64" });
    const z = zerosLike(x);
    expect(z.shape).toEqual([1, 3]);
    expect(z.dtype).toBe("float64");
    expect(z.toArray()).toEqual([[0, 0, 0]]);
    const o = onesLike(x, "int32");
    expect(o.dtype).toBe("int32");
    expect(o.toArray()).toEqual([[1, 1, 1]]);
    expect(onesLike(tensor(3)).shape).toEqual([]);
    // The result never shares the shape array of its argument.
    expect(z.shape).not.toBe(x.shape);
    expect(x.toArray()).toEqual([[1, 2, 3]]);
  });

  it("arange counts from 0, from start, by step and backwards", () => {
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(arange(0, 1, 0.25, "float64").toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(0, 5, 2).toArray()).toEqual([0, 2, 4]);
    expect(arange(3, 1).shape).toEqual([0]);
    expect(arange(0).shape).toEqual([0]);
    expect(arange(3).dtype).toBe("float32");
    expect(arange(3, undefined, 1, "int32").dtype).toBe("int32");
  });

  it("arange has ceil((stop − start)/step) elements, all in [start, stop) (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        (start, stop, step, down) => {
          const s = down ? -step : step;
          const t = arange(start, stop, s, "int32");
          expect(t.size).toBe(Math.max(0, Math.ceil((stop - start) / s)));
          const values = Array.from(t.data);
          values.forEach((v, i) => {
            expect(v).toBe(start + i * s);
            if (s > 0) expect(v).toBeLessThan(stop);
            else expect(v).toBeGreaterThan(stop);
          });
        },
      ),
    );
  });

  it("arange rejects non-finite arguments and a zero step", () => {
    expectTapegradError(
      () => arange(0, 5, 0),
      "INVALID_ARGUMENT",
      /^arange: .*step non-zero, got 0, 5, 0/,
    );
    expectTapegradError(() => arange(NaN), "INVALID_ARGUMENT", /^arange:/);
    expectTapegradError(() => arange(0, Infinity), "INVALID_ARGUMENT", /^arange:/);
  });

  it("eye gives square and rectangular identities", () => {
    expect(eye(3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(eye(3, 2).toArray()).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
    ]);
    expect(eye(0).shape).toEqual([0, 0]);
    expect(eye(2, 2, "int32").dtype).toBe("int32");
    expectTapegradError(
      () => eye(-1),
      "INVALID_ARGUMENT",
      /^eye: shape must hold non-negative integers/,
    );
    expectTapegradError(() => eye(2, 1.5), "INVALID_ARGUMENT", /^eye:/);
  });
});

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

type Snapshot = { data: number[]; shape: number[]; dtype: DType };
const snapshot = (t: Tensor): Snapshot => ({
  data: Array.from(t.data),
  shape: [...t.shape],
  dtype: t.dtype,
});

describe("ops never mutate their inputs", () => {
  const unaryOps: [string, (x: Tensor) => Tensor][] = [
    ["neg", neg],
    ["exp", exp],
    ["log", log],
    ["sqrt", sqrt],
    ["abs", abs],
    ["sin", sin],
    ["tanh", tanh],
    ["sigmoid", sigmoid],
    ["relu", relu],
    ["leakyRelu", (x) => leakyRelu(x, 0.1)],
    ["square", square],
    ["sum", (x) => sum(x)],
    ["sum keepdims", (x) => sum(x, { axis: 0, keepdims: true })],
    ["mean", (x) => mean(x, { axis: -1 })],
    ["reshape", (x) => reshape(x, [-1])],
    ["flatten", (x) => flatten(x, 0)],
    ["expandDims", (x) => expandDims(x, 0)],
    ["squeeze", (x) => squeeze(expandDims(x, 0), 0)],
    ["transpose", (x) => transpose(x)],
    ["broadcastTo", (x) => broadcastTo(x, [2, ...x.shape])],
    ["cast float64", (x) => cast(x, "float64")],
    ["cast int32", (x) => cast(x, "int32")],
    ["greater", (x) => greater(x, 0)],
  ];

  const binaryOps: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ["add", add],
    ["sub", sub],
    ["mul", mul],
    ["div", div],
    ["pow", pow],
    ["maximum", maximum],
    ["minimum", minimum],
    ["equal", equal],
    ["where", (a, b) => where(greater(a, 0), a, b)],
  ];

  it("unary, reduction and shape ops (property over shapes and dtypes)", () => {
    fc.assert(
      fc.property(
        arbitraries.shape({ minRank: 1, maxRank: 3 }),
        fc.constantFrom<DType>("float32", "float64", "int32"),
        (shape, dtype) => {
          const x = tensor(
            Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 5) - 2.25),
            { shape, dtype },
          );
          const before = snapshot(x);
          for (const [name, op] of unaryOps) {
            op(x);
            expect(snapshot(x), name).toEqual(before);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("broadcasting binary ops (property over broadcast pairs)", () => {
    fc.assert(
      fc.property(
        arbitraries
          .broadcastPair()
          .chain(([sa, sb]) =>
            fc.tuple(arbitraries.tensor(sa), arbitraries.tensor(sb, { dtype: "float32" })),
          ),
        ([a, b]) => {
          const beforeA = snapshot(a);
          const beforeB = snapshot(b);
          for (const [name, op] of binaryOps) {
            op(a, b);
            op(b, a);
            expect(snapshot(a), name).toEqual(beforeA);
            expect(snapshot(b), name).toEqual(beforeB);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it("grad, valueAndGrad and vjp leave their arguments untouched", () => {
    const w = tensor(
      [
        [0.5, -1],
        [2, 0.25],
      ],
      { dtype: "float64" },
    );
    const b = tensor([0.1, 0.2]);
    const before = [snapshot(w), snapshot(b)];
    const loss = (p: { w: Tensor; b: Tensor }) => sum(square(tanh(add(p.w, p.b))));
    grad(loss)({ w, b });
    valueAndGrad(loss)({ w, b });
    const [, pullback] = vjp((p: { w: Tensor; b: Tensor }) => mul(p.w, p.b), { w, b });
    pullback(ones([2, 2], "float64"));
    expect([snapshot(w), snapshot(b)]).toEqual(before);
  });

  it("an op given a number treats it as a constant scalar without changing anything", () => {
    const x = tensor([1, 2]);
    const y = mul(x, 3);
    expect(y.toArray()).toEqual([3, 6]);
    expect(x.toArray()).toEqual([1, 2]);
  });
});
