import type { Arbitrary } from "fast-check";
import { anomalyMode, captureSite, checkForward, keepingCallSites } from "./anomaly.js";
import { isFloat } from "./dtype.js";
import { TapegradError, argumentError, show } from "./errors.js";
import type { SampleKit } from "./sampling.js";
import { lower, live, traceOutput, type Trace } from "./tape.js";
import { Tensor, type TensorLike } from "./tensor.js";
import { scalarLike } from "./scalar.js";

/** Residuals an op's forward keeps for its vjp that are not tensors of the graph (indices, …). */
export type Saved = unknown;

export type InputTensors<N extends readonly string[]> = { readonly [K in keyof N]: Tensor };
type InputArgs<N extends readonly string[]> = { [K in keyof N]: TensorLike };

/** What a forward kernel returns when it keeps residuals for the vjp. */
export interface ForwardResult<S> {
  /** The op's output. */
  readonly y: Tensor;
  /** Residuals handed to the vjp as `saved` (argmax indices, …); not traced. */
  readonly saved: S;
}

/** Everything a vjp rule may use. Tensors here are differentiable by outer trace levels. */
export interface VjpContext<N extends readonly string[], A, S> {
  /** The cotangent of the output (same shape as y). */
  readonly dy: Tensor;
  /** The op's inputs, in the order of `inputs` in the definition. */
  readonly inputs: InputTensors<N>;
  /** The op's output, for rules that reuse it (sigmoid: dy·y·(1 − y)). */
  readonly y: Tensor;
  /** The attrs the op was called with. */
  readonly attrs: A;
  /** What forward returned as `saved` (undefined if it returned a plain tensor). */
  readonly saved: S;
  /** Which inputs need a gradient; a rule may return null for the others to save work. */
  readonly needsGrad: readonly boolean[];
}

/** One generated set of arguments for the registry-wide gradient check. */
export interface OpSample<A> {
  /** float64 inputs, in the op's input order. */
  readonly inputs: readonly Tensor[];
  /** The attrs to call the op with. */
  readonly attrs: A;
}

/** Everything that makes an op: its name, forward kernel, vjp rule and sample inputs. */
export interface OpDefinition<N extends readonly string[], A, S = undefined> {
  /** Unique registry name; equals the exported function's name. */
  readonly name: string;
  /** Input names in order, used in error messages (`conv2d: w …`). */
  readonly inputs: N;
  /** When true the op takes a list of inputs, all called `inputs[0]` (`xs[0]`, `xs[1]`, …). */
  readonly variadic?: boolean;
  /**
   * Computes the output from plain (untraced) inputs, validating shapes, dtypes and attrs.
   * Returns y, or `{ y, saved }` to keep residuals for the vjp.
   */
  forward(inputs: InputTensors<N>, attrs: A): Tensor | ForwardResult<S>;
  /**
   * One cotangent per input, in input order (null where there is none), written with
   * differentiable ops so that it can itself be differentiated. Absent: not differentiable.
   */
  vjp?(ctx: VjpContext<N, A, S>): readonly (Tensor | null)[];
  /** Valid, well-conditioned float64 arguments for the gradient-check suite. */
  samples?(kit: SampleKit): Arbitrary<OpSample<A>>;
  /**
   * Gradient-check tolerances for this op, where finite differences need looser ones: `atol`
   * and `rtol` replace checkGrads' defaults (1e-5 and 1e-3).
   */
  readonly tolerance?: { readonly atol?: number; readonly rtol?: number };
}

/** A registered op: call it with its inputs (numbers allowed) and optional attrs. */
export type Op<N extends readonly string[], A, S = undefined> = ((
  ...args: [...InputArgs<N>, A?]
) => Tensor) & {
  /** The definition the op was registered with. */
  readonly definition: OpDefinition<N, A, S>;
  /** Applies the op to a list of inputs; the only way to call a variadic op. */
  apply(inputs: readonly TensorLike[], attrs?: A): Tensor;
};

/** A registered op of any signature, as `listOps` returns it. */
export type AnyOpDefinition = OpDefinition<readonly string[], unknown, unknown>;

/** A registry entry: the definition and the function that applies it to a list of inputs. */
export interface RegisteredOp {
  /** The definition the op was registered with (input and attr types erased). */
  readonly definition: AnyOpDefinition;
  /** Applies the op to a list of inputs and its attrs, recording it on the tape as usual. */
  apply(inputs: readonly TensorLike[], attrs?: unknown): Tensor;
}

const registry = new Map<string, RegisteredOp>();

/**
 * Registers a differentiable op and returns the function that applies it. Built-in ops are made
 * the same way; a new op works at once under every transform and in the gradient-check suite.
 */
export function defineOp<
  const N extends readonly string[],
  A = Record<string, never>,
  S = undefined,
>(definition: OpDefinition<N, A, S>): Op<N, A, S> {
  if (registry.has(definition.name)) {
    throw argumentError("defineOp", `an op named "${definition.name}" is already registered`);
  }
  // The tape treats every op alike, so the op's own input and attr types are erased here.
  const erased: AnyOpDefinition = {
    ...definition,
    forward: (inputs, attrs) => definition.forward(inputs as InputTensors<N>, attrs as A),
    vjp: definition.vjp && ((ctx) => definition.vjp!(ctx as VjpContext<N, A, S>)),
  };
  const arity = definition.inputs.length;
  const apply = (inputs: readonly TensorLike[], attrs?: A): Tensor =>
    applyOp(erased, toTensors(erased, inputs), checkAttrs(definition.name, attrs));
  registry.set(definition.name, { definition: erased, apply: apply as RegisteredOp["apply"] });
  const op = (...args: unknown[]): Tensor => {
    if (!definition.variadic && args.length > arity + 1) {
      throw argumentError(
        definition.name,
        `expected ${arity} inputs and optional attrs, got ${args.length} arguments`,
      );
    }
    return apply(args.slice(0, arity) as TensorLike[], args[arity] as A | undefined);
  };
  return Object.assign(op, { definition, apply }) as Op<N, A, S>;
}

/** Every registered op, built-in and user-defined, in registration order. */
export function listOps(): readonly RegisteredOp[] {
  return [...registry.values()];
}

/** The registered op named `name`, or undefined. */
export function getOp(name: string): RegisteredOp | undefined {
  return registry.get(name);
}

/** The inputs as tensors (numbers take their dtype from the tensors beside them), one per name. */
function toTensors(op: AnyOpDefinition, inputs: readonly TensorLike[]): Tensor[] {
  if (!Array.isArray(inputs)) {
    throw argumentError(op.name, `inputs must be an array of tensors, got ${describe(inputs)}`);
  }
  // A missing input would otherwise surface as a TypeError deep inside the forward kernel.
  if (!op.variadic && inputs.length !== op.inputs.length) {
    throw argumentError(
      op.name,
      `expected ${op.inputs.length} inputs (${op.inputs.join(", ")}), got ${inputs.length}`,
    );
  }
  const tensors = inputs.filter((x): x is Tensor => x instanceof Tensor);
  return inputs.map((x, i) => {
    if (x instanceof Tensor) return x;
    if (typeof x === "number") return scalarLike(x, tensors);
    throw argumentError(op.name, `input ${i} must be a Tensor or a number, got ${describe(x)}`);
  });
}

/** Attrs are an object of named options, or absent: `sum(x, 1)` must not mean "all axes". */
function checkAttrs(op: string, attrs: unknown): unknown {
  if (attrs === undefined || attrs === null) return {};
  if (typeof attrs !== "object" || Array.isArray(attrs)) {
    throw argumentError(
      op,
      `attrs must be an object of named options (such as { axis: 1 }), got ${show(attrs)}`,
    );
  }
  return attrs;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array (wrap it with tensor(...))";
  return typeof value;
}

/**
 * Applies `op` at the innermost trace level any input belongs to: computes it one level down
 * (recursively, so outer levels record it too), then records it on that level.
 */
function applyOp(op: AnyOpDefinition, inputs: Tensor[], attrs: unknown): Tensor {
  return run(op, inputs, attrs).y;
}

function run(op: AnyOpDefinition, inputs: Tensor[], attrs: unknown): ForwardResult<unknown> {
  let top: Trace | null = null;
  for (let i = 0; i < inputs.length; i++) {
    const x = live(inputs[i]!);
    inputs[i] = x;
    if (x.trace !== null && (top === null || x.trace.level > top.level)) top = x.trace;
  }
  if (top === null) {
    const out = op.forward(inputs, attrs);
    // Off, anomaly mode costs one of these tests and the one below; on, outputs are checked, and
    // each recorded op keeps where user code applied it, for a report from its vjp.
    if (out instanceof Tensor) {
      if (anomalyMode) checkForward(op, inputs, out);
      return { y: out, saved: undefined };
    }
    if (!(out?.y instanceof Tensor)) {
      throw new TapegradError(
        "INVALID_STATE",
        `${op.name}: forward must return a Tensor or { y, saved }`,
      );
    }
    if (anomalyMode) checkForward(op, inputs, out.y);
    return out;
  }
  const innerInputs = inputs.map((x) => lower(x, top));
  const { y, saved } = run(op, innerInputs, attrs);
  if (op.vjp === undefined || !isFloat(y.dtype)) return { y, saved };
  const site = anomalyMode || keepingCallSites ? captureSite() : undefined;
  const node = { op, inputs, innerInputs, innerOutput: y, attrs, saved, site };
  return { y: traceOutput(y, top, node), saved };
}
