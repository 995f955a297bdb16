import { kernels } from "../backends/backend.js";
import { binaryScalar, unaryScalar, type UnaryKind } from "../kernels/elementwise.js";
import { GELU_TANH_CUBIC, GELU_TANH_SCALE } from "../kernels/transcendental.js";
import type { DType } from "../dtype.js";
import { argumentError, show } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput, type VjpContext } from "../registry.js";
import type { ValueOptions } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { elementwiseBatch } from "./batching.js";
import { binaryForward } from "./broadcast.js";
import { add, div, mul, reluBackward, sub, where } from "./binary.js";
import { greater, greaterEqual, lessEqual } from "./compare.js";
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
    elementwise: () => unaryScalar(name, 0),
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
/**
 * The error function (2/√π)∫₀ˣ e^(−t²) dt, to double precision (Cody's rational approximations).
 * Gradient: dy·(2/√π)·e^(−x²).
 */
export const erf = defineUnary("erf", ({ dy, inputs: [x] }) =>
  mul(dy, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI))),
);

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
  elementwise: ({ alpha }) => unaryScalar("leakyRelu", alpha),
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

/** Attrs of gelu: which form to compute. */
export interface GeluAttrs {
  /** "none" (default): exact x·Φ(x); "tanh": PyTorch's tanh approximation. */
  readonly approximate?: "none" | "tanh";
}

function geluKind(approximate: unknown): Extract<UnaryKind, "gelu" | "geluTanh"> {
  if (approximate === undefined || approximate === "none") return "gelu";
  if (approximate === "tanh") return "geluTanh";
  throw argumentError("gelu", `approximate must be "none" or "tanh", got ${show(approximate)}`);
}

/** Φ(x) + x·φ(x), the derivative of x·Φ(x), with Φ and φ the standard normal cdf and density. */
function geluSlope(x: Tensor): Tensor {
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const density = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return add(cdf, mul(x, density));
}

/** ½(1 + t) + ½x(1 − t²)·u′, the derivative of ½x(1 + t), t = tanh u, u = k(x + c·x³). */
function geluTanhSlope(x: Tensor): Tensor {
  const x2 = square(x);
  const t = tanh(mul(mul(x, add(mul(x2, GELU_TANH_CUBIC), 1)), GELU_TANH_SCALE));
  const du = mul(add(mul(x2, 3 * GELU_TANH_CUBIC), 1), GELU_TANH_SCALE);
  return add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, square(t))), du));
}

const geluOp = defineOp({
  name: "gelu",
  inputs: ["x"],
  forward: ([x], { approximate }: GeluAttrs) => unaryForward(geluKind(approximate), x),
  elementwise: ({ approximate }) => unaryScalar(geluKind(approximate), 0),
  vjp: ({ dy, inputs: [x], attrs }) => [geluBackwardOp(dy, x, attrs)],
  batch: ({ inputs: [x], axes, attrs }): BatchResult<SingleOutput> => ({
    y: geluOp(x, attrs),
    axes,
  }),
  samples: (kit) =>
    kit.fc
      .tuple(kit.anyTensor(), kit.fc.constantFrom<GeluAttrs["approximate"]>("none", "tanh"))
      .map(([x, approximate]) => ({ inputs: [x], attrs: { approximate } })),
});

const geluBackwardOp = defineOp({
  name: "geluBackward",
  inputs: ["dy", "x"],
  forward: ([dy, x], { approximate }: GeluAttrs) => {
    const kind = geluKind(approximate) === "gelu" ? "geluGrad" : "geluTanhGrad";
    return binaryForward(kind, dy, x, dy.dtype);
  },
  elementwise: ({ approximate }) =>
    binaryScalar(geluKind(approximate) === "gelu" ? "geluGrad" : "geluTanhGrad"),
  // Second order differentiates dy·gelu′(x) written with primitive ops.
  vjp: ({ dy: g, inputs: [dy, x], attrs: { approximate } }) => {
    const slope = geluKind(approximate) === "gelu" ? geluSlope : geluTanhSlope;
    const [, pullback] = vjp((d: Tensor, v: Tensor) => mul(d, slope(v)), dy, x);
    return pullback(g);
  },
  batch: ({ inputs, axes, attrs }) =>
    elementwiseBatch((d: Tensor, v: Tensor): Tensor => geluBackwardOp(d, v, attrs))({
      inputs,
      axes,
    }),
  samples: (kit) =>
    kit
      .broadcastPair()
      .chain(([sd, sx]) =>
        kit.fc.tuple(
          kit.tensor(sd),
          kit.tensor(sx),
          kit.fc.constantFrom<GeluAttrs["approximate"]>("none", "tanh"),
        ),
      )
      .map(([dy, x, approximate]) => ({ inputs: [dy, x], attrs: { approximate } })),
});

/**
 * gelu's gradient dy·gelu′(x) in one pass (gelu′ = Φ(x) + x·φ(x), or the tanh form's), rather
 * than the half-dozen ops of its formula; differentiable. Broadcasts; the result has dy's dtype.
 */
export function geluBackward(dy: TensorLike, x: TensorLike, attrs: GeluAttrs = {}): Tensor {
  return geluBackwardOp(dy, x, attrs);
}

/**
 * GELU, x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's default), or with `approximate: "tanh"`
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))); int32 computes in float32. Gradient: dy·(Φ(x) + x·φ(x)),
 * or dy times the derivative of the tanh form.
 */
export function gelu(x: TensorLike, attrs: GeluAttrs = {}): Tensor {
  return geluOp(x, attrs);
}

/** Attrs of clamp: the bounds, at least one of them. */
export interface ClampAttrs {
  /** Lower bound (none when absent). */
  readonly min?: number;
  /** Upper bound (none when absent); must not be below min. */
  readonly max?: number;
}

function clampBound(name: "min" | "max", value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw argumentError("clamp", `${name} must be a number or undefined, got ${show(value)}`);
  }
  return value;
}

/** The bounds, checked: at least one, and min ≤ max. */
function clampBounds(attrs: ClampAttrs): ClampAttrs {
  const min = clampBound("min", attrs.min);
  const max = clampBound("max", attrs.max);
  if (min === undefined && max === undefined) {
    throw argumentError("clamp", "at least one of min and max must be given, got neither");
  }
  if (min !== undefined && max !== undefined && min > max) {
    throw argumentError("clamp", `min must not exceed max, got min ${min} and max ${max}`);
  }
  return { min, max };
}

/** An int32 clamp's bound must be an int32 value (PyTorch raises on the overflow too). */
function checkInt32Bound(name: "min" | "max", bound: number | undefined): void {
  if (bound !== undefined && (bound < -(2 ** 31) || bound > 2 ** 31 - 1)) {
    throw argumentError("clamp", `${name} must fit int32 for an int32 x, got ${bound}`);
  }
}

/** One element clamped, for an output of `dtype`. */
function clampScalar(attrs: ClampAttrs, dtype: DType): (v: number) => number {
  const { min, max } = clampBounds(attrs);
  // Compare with the bounds as the output stores them, as PyTorch casts its scalars.
  const round = dtype === "float32" ? Math.fround : (v: number) => v;
  const low = round(min ?? -Infinity);
  const high = round(max ?? Infinity);
  return (v) => {
    // NaN fails both tests and passes through, as in PyTorch.
    let y = v;
    if (v < low) y = low;
    if (v > high) y = high;
    return y;
  };
}

const clampOp = defineOp({
  name: "clamp",
  inputs: ["x"],
  forward: ([x], attrs: ClampAttrs) => {
    const { min, max } = clampBounds(attrs);
    // PyTorch promotes an integer tensor clamped by a fractional (or infinite) bound to float.
    const integral = [min, max].every((b) => b === undefined || Number.isInteger(b));
    const dtype = x.dtype === "int32" && integral ? "int32" : floatTypeOf(x);
    if (dtype === "int32") {
      checkInt32Bound("min", min);
      checkInt32Bound("max", max);
    }
    const clampTo = clampScalar(attrs, dtype);
    const values = x.buffer;
    return produce(
      dtype,
      x.shape,
      (out) => {
        for (let i = 0; i < values.length; i++) out[i] = clampTo(values[i]!);
      },
      "unspecified",
    );
  },
  elementwise: clampScalar,
  // PyTorch's rule: dy passes where min ≤ x ≤ max, bounds included.
  vjp: ({ dy, inputs: [x], attrs: { min, max } }) => {
    let dx = dy;
    if (min !== undefined) dx = where(greaterEqual(x, min), dx, 0);
    if (max !== undefined) dx = where(lessEqual(x, max), dx, 0);
    return [dx];
  },
  batch: ({ inputs: [x], axes, attrs }): BatchResult<SingleOutput> => ({
    y: clampOp(x, attrs),
    axes,
  }),
  // Bounds on either side of 0, one of them possibly absent, and x kept off both (kinks).
  samples: (kit) => {
    const { fc } = kit;
    const bound = (min: number, max: number) =>
      fc.option(fc.double({ min, max, noNaN: true }), { nil: undefined });
    return fc
      .tuple(bound(-1.5, -0.1), bound(0.1, 1.5))
      .filter(([min, max]) => min !== undefined || max !== undefined)
      .chain(([min, max]) =>
        kit
          .anyTensor({}, { awayFrom: [min, max].filter((b): b is number => b !== undefined) })
          .map((x) => ({ inputs: [x], attrs: { min, max } })),
      );
  },
});

/**
 * min(max(x, min), max) elementwise with number bounds, as torch.clamp: at least one bound, and
 * min ≤ max; NaN stays NaN; int32 stays int32 unless a bound is fractional. Gradient: dy where
 * min ≤ x ≤ max (bounds included, as PyTorch), else 0.
 */
export function clamp(x: TensorLike, attrs: ClampAttrs): Tensor {
  return clampOp(x, attrs);
}
