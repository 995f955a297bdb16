import type { Arbitrary } from "fast-check";
import { isFloat } from "./dtype.js";
import { TapegradError, argumentError } from "./errors.js";
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
  readonly y: Tensor;
  readonly saved: S;
}

/** Everything a vjp rule may use. Tensors here are differentiable by outer trace levels. */
export interface VjpContext<N extends readonly string[], A, S> {
  /** The cotangent of the output (same shape as y). */
  readonly dy: Tensor;
  readonly inputs: InputTensors<N>;
  readonly y: Tensor;
  readonly attrs: A;
  readonly saved: S;
  /** Which inputs need a gradient; a rule may return null for the others to save work. */
  readonly needsGrad: readonly boolean[];
}

/** One generated set of arguments for the registry-wide gradient check. */
export interface OpSample<A> {
  readonly inputs: readonly Tensor[];
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
  /** Gradient-check tolerances for this op, where finite differences need looser ones. */
  readonly tolerance?: { readonly atol?: number; readonly rtol?: number };
}

/** A registered op: call it with its inputs (numbers allowed) and optional attrs. */
export type Op<N extends readonly string[], A, S = undefined> = ((
  ...args: [...InputArgs<N>, A?]
) => Tensor) & {
  readonly definition: OpDefinition<N, A, S>;
  /** Applies the op to a list of inputs; the only way to call a variadic op. */
  apply(inputs: readonly TensorLike[], attrs?: A): Tensor;
};

/** A registered op of any signature, as `listOps` returns it. */
export type AnyOpDefinition = OpDefinition<readonly string[], unknown, unknown>;

/** A registry entry: the definition and the function that applies it to a list of inputs. */
export interface RegisteredOp {
  readonly definition: AnyOpDefinition;
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
    applyOp(erased, toTensors(definition.name, inputs), attrs ?? {});
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

export function getOp(name: string): RegisteredOp | undefined {
  return registry.get(name);
}

function toTensors(op: string, inputs: readonly TensorLike[]): Tensor[] {
  const tensors = inputs.filter((x): x is Tensor => x instanceof Tensor);
  return inputs.map((x, i) => {
    if (x instanceof Tensor) return x;
    if (typeof x === "number") return scalarLike(x, tensors);
    throw argumentError(op, `input ${i} must be a Tensor or a number, got ${describe(x)}`);
  });
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
    if (out instanceof Tensor) return { y: out, saved: undefined };
    if (!(out?.y instanceof Tensor)) {
      throw new TapegradError(
        "INVALID_STATE",
        `${op.name}: forward must return a Tensor or { y, saved }`,
      );
    }
    return out;
  }
  const innerInputs = inputs.map((x) => lower(x, top));
  const { y, saved } = run(op, innerInputs, attrs);
  if (op.vjp === undefined || !isFloat(y.dtype)) return { y, saved };
  const node = { op, inputs, innerInputs, innerOutput: y, attrs, saved };
  return { y: traceOutput(y, top, node), saved };
}
