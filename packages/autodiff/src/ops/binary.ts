import { promoteTypes, type DType } from "../dtype.js";
import { kernels } from "../backends/backend.js";
import type { BinaryKind } from "../kernels/elementwise.js";
import { defineOp, type VjpContext } from "../registry.js";
import { broadcastShapes } from "../shape.js";
import type { SampleKit, ValueOptions } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { equal, greater, less, where } from "./compare.js";
import { log } from "./unary.js";
import { unbroadcast } from "./broadcast.js";
import { produce } from "./util.js";

type BinaryContext = VjpContext<readonly ["a", "b"], Record<string, never>, undefined>;

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

function defineBinary(
  name: "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum",
  vjp: (ctx: BinaryContext) => [Tensor | null, Tensor | null],
  bValues: ValueOptions = {},
) {
  return defineOp({
    name,
    inputs: ["a", "b"],
    forward: ([a, b]) => binaryForward(name, a, b),
    vjp: (ctx) => {
      const [da, db] = vjp(ctx);
      const [a, b] = ctx.inputs;
      return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
    },
    samples: (kit) =>
      kit
        .broadcastPair()
        .chain(([sa, sb]) => kit.fc.tuple(kit.tensor(sa), kit.tensor(sb, bValues)))
        .map(([a, b]) => ({ inputs: [a, b], attrs: {} })),
  });
}

const addOp = defineBinary("add", ({ dy }) => [dy, dy]);
const subOp = defineBinary("sub", ({ dy }) => [dy, negate(dy)]);
const mulOp = defineBinary("mul", ({ dy, inputs: [a, b] }) => [mul(dy, b), mul(dy, a)]);
const divOp = defineBinary(
  "div",
  ({ dy, inputs: [, b], y }) => [div(dy, b), negate(mul(dy, div(y, b)))],
  {
    awayFrom: [0],
    margin: 0.3,
  },
);

const reluBackwardOp = defineOp({
  name: "reluBackward",
  inputs: ["dy", "x"],
  forward: ([dy, x]) => binaryForward("reluGrad", dy, x, dy.dtype),
  // Linear in dy; piecewise constant in x, whose gradient is 0 almost everywhere.
  vjp: ({ dy: g, inputs: [dy, x] }) => [unbroadcast(reluBackward(g, x), dy.shape), null],
  samples: (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) => kit.fc.tuple(kit.tensor(sa), kit.tensor(sb, { awayFrom: [0] })))
      .map(([dy, x]) => ({ inputs: [dy, x], attrs: {} })),
});

/**
 * relu's gradient: dy where x > 0, else 0 (dy·[x > 0], so a NaN in dy still propagates), in one
 * pass rather than mul(dy, step(x)). Broadcasts; the result has dy's dtype.
 */
export function reluBackward(dy: TensorLike, x: TensorLike): Tensor {
  return reluBackwardOp(dy, x);
}

const powOp = defineOp({
  name: "pow",
  inputs: ["a", "b"],
  forward: ([a, b]) => binaryForward("pow", a, b),
  vjp: ({ dy, inputs: [a, b], y, needsGrad }) => {
    // d(a^b)/da = b·a^(b−1); d(a^b)/db = a^b·log a, taken as 0 where a ≤ 0 (as JAX does).
    const da = needsGrad[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null;
    let db: Tensor | null = null;
    if (needsGrad[1]) {
      const positive = greater(a, 0);
      db = mul(dy, mul(y, where(positive, log(where(positive, a, 1)), 0)));
    }
    return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
  },
  // Positive bases keep a^b real; exponents in a small range keep it well conditioned.
  samples: (kit) =>
    kit
      .broadcastPair()
      .chain(([sa, sb]) =>
        kit.fc
          .tuple(kit.tensor(sa, { min: 0.2, max: 2 }), kit.tensor(sb, { min: -2, max: 2 }))
          .map(([a, b]) => ({ inputs: [a, b], attrs: {} })),
      ),
});

/** Ties send half the gradient each way, so maximum(x, x) has gradient 1 like x itself. */
function selectGrad(dy: Tensor, wins: Tensor, ties: Tensor): Tensor {
  return mul(dy, where(wins, 1, where(ties, 0.5, 0)));
}

const distinctPair = (kit: SampleKit) =>
  kit
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

const maximumOp = defineOp({
  name: "maximum",
  inputs: ["a", "b"],
  forward: ([a, b]) => binaryForward("maximum", a, b),
  vjp: ({ dy, inputs: [a, b] }) => {
    const ties = equal(a, b);
    return [
      unbroadcast(selectGrad(dy, greater(a, b), ties), a.shape),
      unbroadcast(selectGrad(dy, less(a, b), ties), b.shape),
    ];
  },
  samples: distinctPair,
});

const minimumOp = defineOp({
  name: "minimum",
  inputs: ["a", "b"],
  forward: ([a, b]) => binaryForward("minimum", a, b),
  vjp: ({ dy, inputs: [a, b] }) => {
    const ties = equal(a, b);
    return [
      unbroadcast(selectGrad(dy, less(a, b), ties), a.shape),
      unbroadcast(selectGrad(dy, greater(a, b), ties), b.shape),
    ];
  },
  samples: distinctPair,
});

/** a + b, broadcasting. Gradient: dy to each, summed over broadcast axes. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return addOp(a, b);
}

/** a − b, broadcasting. Gradient: dy, −dy. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return subOp(a, b);
}

/** a · b elementwise, broadcasting. Gradient: dy·b, dy·a. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return mulOp(a, b);
}

/** a / b elementwise (integers divide to float32). Gradient: dy/b, −dy·a/b². */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return divOp(a, b);
}

/** a^b elementwise. Gradient: dy·b·a^(b−1), dy·a^b·log a (0 where a ≤ 0). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return powOp(a, b);
}

/** Elementwise maximum (NaN wins). Gradient to the larger; ties split it evenly. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return maximumOp(a, b);
}

/** Elementwise minimum (NaN wins). Gradient to the smaller; ties split it evenly. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return minimumOp(a, b);
}

function negate(x: Tensor): Tensor {
  return mul(x, -1);
}
