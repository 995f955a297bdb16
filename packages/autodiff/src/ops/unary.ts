import { kernels } from "../backends/backend.js";
import type { UnaryKind } from "../kernels/elementwise.js";
import { argumentError, show } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput, type VjpContext } from "../registry.js";
import type { ValueOptions } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { elementwiseBatch } from "./batching.js";
import { add, div, mul, reluBackward, sub, where } from "./binary.js";
import { greater } from "./compare.js";
import { floatTypeOf, produce } from "./util.js";

type UnaryContext = VjpContext<readonly ["x"], Record<string, never>, undefined>;

/** Applies an elementwise kernel in x's float type (int32 computes in float32). */
function unaryForward(kind: UnaryKind, x: Tensor, alpha = 0): Tensor {
  const dtype = floatTypeOf(x);
  return produce(
    dtype,
    x.shape,
    (out) => kernels().unary(kind, x.buffer, out, alpha),
    "unspecified",
  );
}

/**
 * Registers an elementwise op of x and returns its public function; `values` keeps sample inputs
 * inside its domain and off kinks.
 */
function defineUnary(
  name: UnaryKind,
  vjp: ((ctx: UnaryContext) => Tensor) | undefined,
  values: ValueOptions = {},
) {
  const op = defineOp({
    name,
    inputs: ["x"],
    forward: ([x]) => unaryForward(name, x),
    vjp: vjp && ((ctx) => [vjp(ctx)]),
    batch: elementwiseBatch((x: Tensor): Tensor => op(x)),
    samples: (kit) => kit.anyTensor({}, values).map((x) => ({ inputs: [x], attrs: {} })),
  });
  return (x: TensorLike): Tensor => op(x);
}

/** −x. Gradient: −dy. */
export const neg = defineUnary("neg", ({ dy }) => neg(dy));
/** eˣ. Gradient: dy·y. */
export const exp = defineUnary("exp", ({ dy, y }) => mul(dy, y));
/** Natural logarithm. Gradient: dy/x. */
export const log = defineUnary("log", ({ dy, inputs: [x] }) => div(dy, x), { min: 0.1, max: 3 });
/** log(1 + x), accurate near 0. Gradient: dy/(1 + x). */
export const log1p = defineUnary("log1p", ({ dy, inputs: [x] }) => div(dy, add(x, 1)), {
  min: -0.8,
  max: 3,
});
/** √x. Gradient: dy/(2y). */
export const sqrt = defineUnary("sqrt", ({ dy, y }) => div(dy, mul(y, 2)), { min: 0.1, max: 3 });
/** |x|. Gradient: dy·sign(x) (0 at 0). */
export const abs = defineUnary("abs", ({ dy, inputs: [x] }) => mul(dy, sign(x)), { awayFrom: [0] });
/** sin x. Gradient: dy·cos x. */
export const sin = defineUnary("sin", ({ dy, inputs: [x] }) => mul(dy, cos(x)));
/** cos x. Gradient: −dy·sin x. */
export const cos = defineUnary("cos", ({ dy, inputs: [x] }) => neg(mul(dy, sin(x))));
/** tanh x. Gradient: dy·(1 − y²). */
export const tanh = defineUnary("tanh", ({ dy, y }) => mul(dy, sub(1, mul(y, y))));
/** 1/(1 + e^−x), computed without overflow. Gradient: dy·y·(1 − y). */
export const sigmoid = defineUnary("sigmoid", ({ dy, y }) => mul(dy, mul(y, sub(1, y))));
/**
 * max(x, 0). Gradient: reluBackward(dy, x), dy where x > 0, else 0 — not maximum(x, 0)'s rule,
 * whose tie would send half the gradient through at exactly 0.
 */
export const relu = defineUnary("relu", ({ dy, inputs: [x] }) => reluBackward(dy, x), {
  awayFrom: [0],
});
/** log(1 + eˣ), stable for large |x|. Gradient: dy·sigmoid(x). */
export const softplus = defineUnary("softplus", ({ dy, inputs: [x] }) => mul(dy, sigmoid(x)));
/** x². Gradient: 2x·dy. */
export const square = defineUnary("square", ({ dy, inputs: [x] }) => mul(dy, mul(x, 2)));
/** 1/x. Gradient: −dy·y². */
export const reciprocal = defineUnary("reciprocal", ({ dy, y }) => neg(mul(dy, mul(y, y))), {
  awayFrom: [0],
  margin: 0.3,
});
/** −1, 0 or 1 by the sign of x. Not differentiable (zero gradient almost everywhere). */
export const sign = defineUnary("sign", undefined);
/** Heaviside step: 1 where x > 0, else 0. Not differentiable. */
export const step = defineUnary("step", undefined);

interface LeakyReluAttrs {
  readonly alpha: number;
}

const leakyReluOp = defineOp({
  name: "leakyRelu",
  inputs: ["x"],
  forward: ([x], { alpha }: LeakyReluAttrs) => {
    if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
      throw argumentError("leakyRelu", `alpha must be a finite number, got ${show(alpha)}`);
    }
    return unaryForward("leakyRelu", x, alpha);
  },
  // alpha meets dy, whose dtype it then takes: where(x > 0, 1, alpha) alone would be float32.
  vjp: ({ dy, inputs: [x], attrs: { alpha } }) => [where(greater(x, 0), dy, mul(dy, alpha))],
  batch: ({ inputs: [x], axes, attrs }): BatchResult<SingleOutput> => ({
    y: leakyReluOp(x, attrs),
    axes,
  }),
  samples: (kit) =>
    kit.fc
      .tuple(kit.anyTensor({}, { awayFrom: [0] }), kit.fc.double({ min: 0, max: 0.5, noNaN: true }))
      .map(([x, alpha]) => ({ inputs: [x], attrs: { alpha } })),
});

/** x where x > 0, else alpha·x (alpha defaults to 0.01). Gradient: dy·(1 or alpha). */
export function leakyRelu(x: TensorLike, alpha = 0.01): Tensor {
  return leakyReluOp(x, { alpha });
}
