import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Tensor,
  abs,
  add,
  broadcastTo,
  cast,
  div,
  equal,
  exp,
  expandDims,
  flatten,
  grad,
  greater,
  leakyRelu,
  log,
  maximum,
  mean,
  minimum,
  mul,
  neg,
  ones,
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
  type DType,
} from "./index.js";
import { arbitraries } from "./testing/index.js";

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
