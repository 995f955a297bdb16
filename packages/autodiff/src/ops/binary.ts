import type { Arbitrary } from "fast-check";
import { promoteTypes, type DType } from "../dtype.js";
import { kernels } from "../backends/backend.js";
import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp, type OpSample, type VjpContext } from "../registry.js";
import { broadcastShapes } from "../shape.js";
import type { SampleKit, ValueOptions } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { unbroadcast } from "./broadcast.js";
import { equal, greater, less, where } from "./compare.js";
import { log } from "./unary.js";
import { produce } from "./util.js";

/** Applies a broadcasting binary kernel; the result has the promoted dtype (or `dtype`). */
export function binaryForward(kind: BinaryKind, a: Tensor, b: Tensor, dtype?: DType): Tensor {
  const shape = broadcastShapes(kind, a.shape, b.shape);
  let outType = dtype ?? promoteTypes(a.dtype, b.dtype);
  // True division of integers gives floats, as in NumPy.
  if (kind === "div" && outType === "int32") outType = "float32";
  return produce(
    outType,
    shape,
    (out) => kernels().binary(kind, a.buffer, a.shape, b.buffer, b.shape, out, shape),
    "unspecified",
  );
}

type BinaryContext = VjpContext<readonly ["a", "b"], Record<string, never>, undefined>;
type PairSamples = (kit: SampleKit) => Arbitrary<OpSample<Record<string, never>>>;

/** Pairs of tensors whose shapes broadcast together, with values from aValues and bValues. */
function pairSamples(aValues: ValueOptions = {}, bValues: ValueOptions = {}): PairSamples {
  return (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) => kit.fc.tuple(kit.tensor(sa, aValues), kit.tensor(sb, bValues)))
      .map(([a, b]) => ({ inputs: [a, b], attrs: {} }));
}

/**
 * Registers a broadcasting elementwise op of a and b and returns its public function. `vjp`
 * gives the gradients at the broadcast shape (null where not needed); each is summed back to its
 * operand's shape here, once for every op.
 */
function defineBinary(
  name: Extract<BinaryKind, "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum">,
  vjp: (ctx: BinaryContext) => readonly [Tensor | null, Tensor | null],
  samples: PairSamples = pairSamples(),
) {
  const op = defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b),
    vjp: (ctx) => {
      const [da, db] = vjp(ctx);
      const [a, b] = ctx.inputs;
      return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
    },
    samples,
  });
  return (a: TensorLike, b: TensorLike): Tensor => op(a, b);
}

/** a + b, broadcasting. Gradient: dy to each, summed over broadcast axes. */
export const add = defineBinary("add", ({ dy }) => [dy, dy]);
/** a − b, broadcasting. Gradient: dy, −dy. */
export const sub = defineBinary("sub", ({ dy }) => [dy, mul(dy, -1)]);
/** a · b elementwise, broadcasting. Gradient: dy·b, dy·a. */
export const mul = defineBinary("mul", ({ dy, inputs: [a, b] }) => [mul(dy, b), mul(dy, a)]);
/** a / b elementwise (integers divide to float32). Gradient: dy/b, −dy·a/b². */
export const div = defineBinary(
  "div",
  ({ dy, inputs: [, b], y }) => [div(dy, b), mul(mul(dy, div(y, b)), -1)],
  pairSamples({}, { awayFrom: [0], margin: 0.3 }),
);
/** a^b elementwise. Gradient: dy·b·a^(b−1), dy·a^b·log a (0 where a ≤ 0, as JAX does). */
export const pow = defineBinary(
  "pow",
  ({ dy, inputs: [a, b], y, needsGrad }) => [
    needsGrad[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null,
    needsGrad[1] ? mul(dy, mul(y, logOfPositive(a))) : null,
  ],
  // Positive bases keep a^b real; exponents in a small range keep it well conditioned.
  pairSamples({ min: 0.2, max: 2 }, { min: -2, max: 2 }),
);
/** Elementwise maximum (NaN wins). Gradient to the larger; ties split it evenly. */
export const maximum = defineBinary(
  "maximum",
  ({ dy, inputs: [a, b] }) => {
    const ties = equal(a, b);
    return [selectGrad(dy, greater(a, b), ties), selectGrad(dy, less(a, b), ties)];
  },
  distinctPairs,
);
/** Elementwise minimum (NaN wins). Gradient to the smaller; ties split it evenly. */
export const minimum = defineBinary(
  "minimum",
  ({ dy, inputs: [a, b] }) => {
    const ties = equal(a, b);
    return [selectGrad(dy, less(a, b), ties), selectGrad(dy, greater(a, b), ties)];
  },
  distinctPairs,
);

/** log a where a > 0, else 0: the log is taken of positive bases only, never giving NaN. */
function logOfPositive(a: Tensor): Tensor {
  const positive = greater(a, 0);
  return where(positive, log(where(positive, a, 1)), 0);
}

/** Ties send half the gradient each way, so maximum(x, x) has gradient 1 like x itself. */
function selectGrad(dy: Tensor, wins: Tensor, ties: Tensor): Tensor {
  return mul(dy, where(wins, 1, where(ties, 0.5, 0)));
}

/** Pairs of tie-free values (a kink of maximum and minimum), in either order. */
function distinctPairs(kit: SampleKit) {
  return kit
    .broadcastPair()
    .chain(([sa, sb]) =>
      kit.fc
        .tuple(
          kit.tensor(sa, { distinct: true, min: -2, max: 0 }),
          kit.tensor(sb, { distinct: true, min: 0.01, max: 2 }),
        )
        .chain(([a, b]) =>
          kit.fc.boolean().map((swap) => ({ inputs: swap ? [b, a] : [a, b], attrs: {} })),
        ),
    );
}

const reluBackwardOp = defineOp({
  name: "reluBackward",
  inputs: ["dy", "x"],
  forward: ([dy, x]) => binaryForward("reluGrad", dy, x, dy.dtype),
  // Linear in dy; piecewise constant in x, whose gradient is 0 almost everywhere.
  vjp: ({ dy: g, inputs: [dy, x] }) => [unbroadcast(reluBackward(g, x), dy.shape), null],
  samples: pairSamples({}, { awayFrom: [0] }),
});

/**
 * relu's gradient: dy where x > 0, else 0 (dy·[x > 0], so a NaN in dy still propagates), in one
 * pass rather than mul(dy, step(x)). Broadcasts; the result has dy's dtype. Its own inputs are
 * named dy and x, so it is defined apart from the ops of a and b above.
 */
export function reluBackward(dy: TensorLike, x: TensorLike): Tensor {
  return reluBackwardOp(dy, x);
}
