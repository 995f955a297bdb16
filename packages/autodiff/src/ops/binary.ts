import type { SampleArbitrary } from "../sampleTypes.js";
import { kernels } from "../backends/backend.js";
import { promoteTypes } from "../dtype.js";
import { binaryScalar, type BinaryKind } from "../kernels/elementwise.js";
import { defineOp, type OpSample, type VjpContext } from "../registry.js";
import type { SampleKit, ValueOptions } from "../sampling.js";
import { broadcastShapes } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { elementwiseBatch } from "./batching.js";
import { binaryForward, unbroadcast } from "./broadcast.js";
import { equal, greater, less, notEqual } from "./compare.js";
import { produce } from "./util.js";

// The ops here and in compare.ts are the base of every other op's gradient. Their own vjps use
// only each other (and unbroadcast), so that neither imports unary.ts, which imports them: −dy
// is mul(dy, −1), the negation neg computes, and pow, whose gradient needs log, is in pow.ts.

type BinaryContext = VjpContext<readonly ["a", "b"], Record<string, never>, undefined>;
type PairSamples = (kit: SampleKit) => SampleArbitrary<OpSample<Record<string, never>>>;

/** @internal Pairs of tensors whose shapes broadcast together, valued by aValues and bValues. */
export function pairSamples(aValues: ValueOptions = {}, bValues: ValueOptions = {}): PairSamples {
  return (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) => kit.fc.tuple(kit.tensor(sa, aValues), kit.tensor(sb, bValues)))
      .map(([a, b]) => ({ inputs: [a, b], attrs: {} }));
}

/**
 * @internal Registers a broadcasting elementwise op of a and b and returns its public function.
 * `vjp` gives the gradients at the broadcast shape (null where not needed); each is summed back
 * to its operand's shape here, once for every op.
 */
export function defineBinary(
  name: Extract<BinaryKind, "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum">,
  vjp: (ctx: BinaryContext) => readonly [Tensor | null, Tensor | null],
  samples: PairSamples = pairSamples(),
) {
  const op = defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b),
    elementwise: () => binaryScalar(name),
    vjp: (ctx) => {
      const [da, db] = vjp(ctx);
      const [a, b] = ctx.inputs;
      return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
    },
    batch: elementwiseBatch((a: Tensor, b: Tensor): Tensor => op(a, b)),
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

/**
 * dy to the winner; ties send half of it each way, so maximum(x, x) has gradient 1 like x itself.
 * The loser gets dy·0, not 0, so that a NaN in dy still shows; every constant meets dy and so
 * takes its dtype.
 */
function selectGrad(dy: Tensor, wins: Tensor, ties: Tensor): Tensor {
  return where(wins, dy, where(ties, mul(dy, 0.5), mul(dy, 0)));
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
  elementwise: () => binaryScalar("reluGrad"),
  // Linear in dy; piecewise constant in x, whose gradient is 0 almost everywhere.
  vjp: ({ dy: g, inputs: [dy, x] }) => [unbroadcast(reluBackward(g, x), dy.shape), null],
  batch: elementwiseBatch((dy: Tensor, x: Tensor): Tensor => reluBackwardOp(dy, x)),
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

const whereOp = defineOp({
  name: "where",
  inputs: ["condition", "a", "b"],
  forward: ([condition, a, b]) => {
    const shape = broadcastShapes("where", condition.shape, a.shape, b.shape);
    return produce(promoteTypes(a.dtype, b.dtype), shape, (out) =>
      kernels().where(
        condition.buffer,
        condition.shape,
        a.buffer,
        a.shape,
        b.buffer,
        b.shape,
        out,
        shape,
      ),
    );
  },
  elementwise: () => (condition, a, b) => (condition !== 0 ? a : b),
  vjp: ({ dy, inputs: [condition, a, b], needsGrad }) => {
    const chosen = mul(dy, notEqual(condition, 0));
    return [
      null,
      needsGrad[1] ? unbroadcast(chosen, a.shape) : null,
      needsGrad[2] ? unbroadcast(mul(dy, equal(condition, 0)), b.shape) : null,
    ];
  },
  batch: elementwiseBatch((c: Tensor, a: Tensor, b: Tensor): Tensor => whereOp(c, a, b)),
  samples: (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) =>
        kit.fc.tuple(
          kit.tensor(sa, { dtype: "int32", min: 0, max: 1 }),
          kit.tensor(sa),
          kit.tensor(sb),
        ),
      )
      .map(([condition, a, b]) => ({ inputs: [condition, a, b], attrs: {} })),
});

/**
 * condition ≠ 0 ? a : b elementwise, all three broadcast together.
 * Gradient: dy to a where the condition holds, to b elsewhere; none to the condition.
 */
export function where(condition: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  return whereOp(condition, a, b);
}
