import type { SampleArbitrary } from "./sampleTypes.js";
import { anomalyMode, captureSite, checkForward, keepingCallSites } from "./anomaly.js";
import { isFloat, type DType } from "./dtype.js";
import { TapegradError, argumentError, show } from "./errors.js";
import type { SampleKit } from "./sampling.js";
import { hasOneOutput, lower, live, traceOutputs, type Applied, type Trace } from "./tape.js";
import { Tensor, anyDonated, checkNotDonated, type TensorLike } from "./tensor.js";
import { scalarLike } from "./scalar.js";

/** Residuals an op's forward keeps for its vjp that are not tensors of the graph (indices, …). */
export type Saved = unknown;

export type InputTensors<N extends readonly string[]> = { readonly [K in keyof N]: Tensor };
type InputArgs<N extends readonly string[]> = { [K in keyof N]: TensorLike };

/** The names of an op's outputs when it declares none: one output, `y`. */
export type SingleOutput = readonly ["y"];

/**
 * What an op returns: a tensor when it has one output, else a tuple with one tensor per declared
 * output, in declaration order.
 */
export type OpOutputs<O extends readonly string[]> = readonly string[] extends O
  ? Tensor | readonly Tensor[]
  : O extends readonly [string]
    ? Tensor
    : TensorPerName<O>;

type TensorPerName<O extends readonly string[]> = O extends readonly [
  string,
  ...infer Rest extends readonly string[],
]
  ? readonly [Tensor, ...TensorPerName<Rest>]
  : readonly [];

/** What a forward kernel returns when it keeps residuals for the vjp. */
export interface ForwardResult<S, O extends readonly string[] = SingleOutput> {
  /** The op's output (a tuple for several outputs). */
  readonly y: OpOutputs<O>;
  /** Residuals handed to the vjp as `saved` (argmax indices, …); not traced. */
  readonly saved: S;
}

/** Everything a vjp rule may use. Tensors here are differentiable by outer trace levels. */
export interface VjpContext<
  N extends readonly string[],
  A,
  S,
  O extends readonly string[] = SingleOutput,
> {
  /**
   * The cotangent of the output (same shape as y); a tuple, one per output, for several outputs
   * (zeros for an output that nothing used).
   */
  readonly dy: OpOutputs<O>;
  /** The op's inputs, in the order of `inputs` in the definition. */
  readonly inputs: InputTensors<N>;
  /** The op's output, for rules that reuse it (sigmoid: dy·y·(1 − y)); a tuple for several. */
  readonly y: OpOutputs<O>;
  /** The attrs the op was called with. */
  readonly attrs: A;
  /** What forward returned as `saved` (undefined if it returned a plain tensor). */
  readonly saved: S;
  /** Which inputs need a gradient; a rule may return null for the others to save work. */
  readonly needsGrad: readonly boolean[];
}

/** What a batching rule gets (vmap): the inputs one level down and the axis each is mapped over. */
export interface BatchContext<N extends readonly string[], A> {
  /** The inputs one level down, in input order; a mapped one has the batch axis besides. */
  readonly inputs: InputTensors<N>;
  /** Each input's batch axis in `inputs`, or null for an input that is the same for every slice. */
  readonly axes: readonly (number | null)[];
  /** The batch size: the length of every mapped input's batch axis. */
  readonly size: number;
  /** The attrs the op was called with, which describe one slice. */
  readonly attrs: A;
  /**
   * Applies this op one level down to other inputs (the batch folded into an axis, say) and
   * returns its outputs and residuals: for the rule of an op whose vjp needs residuals.
   */
  readonly applyWithResiduals: (inputs: readonly Tensor[], attrs: A) => Applied;
}

/** A batching rule's result: the outputs one level down, and each one's batch axis. */
export interface BatchResult<O extends readonly string[]> {
  /** The outputs for the whole batch (a tuple for several outputs). */
  readonly y: OpOutputs<O>;
  /** One per output: its batch axis, or null for an output that is the same for every slice. */
  readonly axes: readonly (number | null)[];
  /**
   * For an op whose forward keeps residuals for its vjp: those of every slice, batched, with
   * their batch axis (the vjp then sees one slice's, as without vmap).
   */
  readonly saved?: BatchedResiduals;
}

/** Residuals of a whole batch, as a batching rule returns them for the op's vjp. */
export interface BatchedResiduals {
  /** Every slice's residuals in one tensor. */
  readonly value: Tensor;
  /** Its batch axis, or null for residuals that are the same for every slice. */
  readonly axis: number | null;
}

/** One generated set of arguments for the registry-wide gradient check. */
export interface OpSample<A> {
  /** float64 inputs, in the op's input order. */
  readonly inputs: readonly Tensor[];
  /** The attrs to call the op with. */
  readonly attrs: A;
}

/** Everything that makes an op: its name, forward kernel, vjp rule and sample inputs. */
export interface OpDefinition<
  N extends readonly string[],
  A,
  S = undefined,
  O extends readonly string[] = SingleOutput,
> {
  /** Unique registry name; equals the exported function's name. */
  readonly name: string;
  /** Input names in order, used in error messages (`conv2d: w …`). */
  readonly inputs: N;
  /** When true the op takes a list of inputs, all called `inputs[0]` (`xs[0]`, `xs[1]`, …). */
  readonly variadic?: boolean;
  /**
   * Output names in order, for an op with several outputs (`["dx", "dw", "db"]`): forward
   * returns, and the op gives, a tuple of that length. Default: one output, a plain tensor.
   */
  readonly outputs?: O;
  /**
   * Computes the output from plain (untraced) inputs, validating shapes, dtypes and attrs.
   * Returns y, or `{ y, saved }` to keep residuals for the vjp.
   */
  forward(inputs: InputTensors<N>, attrs: A): OpOutputs<NoInfer<O>> | ForwardResult<S, NoInfer<O>>;
  /**
   * One cotangent per input, in input order (null where there is none), written with
   * differentiable ops so that it can itself be differentiated. Absent: not differentiable.
   */
  vjp?(ctx: VjpContext<N, A, S, NoInfer<O>>): readonly (Tensor | null)[];
  /**
   * How the op maps over a batch (vmap), written with ops on the batched inputs. Absent: vmap
   * applies the op to each slice and stacks the results (`batchFallbackOps` lists such ops).
   */
  batch?(ctx: BatchContext<N, A>): BatchResult<NoInfer<O>>;
  /** Valid, well-conditioned float64 arguments for the gradient-check suite. */
  samples?(kit: SampleKit): SampleArbitrary<OpSample<A>>;
  /**
   * For each output, an input whose buffer the output may be written into when nothing reads
   * that input afterwards, or null: the forward reads each element of that input before it
   * writes the same element of the output (an elementwise update such as Adam's). jit's memory
   * plan uses it to update donated arguments in place.
   */
  readonly inPlace?: readonly (number | null)[];
  /**
   * For an elementwise op with one output of dtype `dtype`: its value at one element,
   * y[i] = f(a[i], b[i], …) with the inputs broadcast to y's shape, computed in float64 and then
   * rounded to y's dtype (float32 to nearest, int32 as a typed array stores it), exactly as
   * forward computes it. jit fuses chains of such ops into one pass (docs/jit.md#fusion); the
   * registry suite checks the fused pass against forward bit for bit.
   */
  elementwise?(attrs: A, dtype: DType): (...values: number[]) => number;
  /**
   * Gradient-check tolerances for this op, where finite differences need looser ones: `atol`
   * and `rtol` replace checkGrads' defaults (1e-5 and 1e-3).
   */
  readonly tolerance?: { readonly atol?: number; readonly rtol?: number };
}

/** A registered op: call it with its inputs (numbers allowed) and optional attrs. */
export type Op<
  N extends readonly string[],
  A,
  S = undefined,
  O extends readonly string[] = SingleOutput,
> = ((...args: [...InputArgs<N>, A?]) => OpOutputs<O>) & {
  /** The definition the op was registered with. */
  readonly definition: OpDefinition<N, A, S, O>;
  /** Applies the op to a list of inputs; the only way to call a variadic op. */
  apply(inputs: readonly TensorLike[], attrs?: A): OpOutputs<O>;
};

/** A registered op of any signature, as `listOps` returns it. */
export type AnyOpDefinition = OpDefinition<readonly string[], unknown, unknown, readonly string[]>;

/** A registry entry: the definition and the function that applies it to a list of inputs. */
export interface RegisteredOp {
  /** The definition the op was registered with (input, attr and output types erased). */
  readonly definition: AnyOpDefinition;
  /** Applies the op to a list of inputs and its attrs, recording it on the tape as usual. */
  apply(inputs: readonly TensorLike[], attrs?: unknown): Tensor | readonly Tensor[];
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
  const O extends readonly string[] = SingleOutput,
>(definition: OpDefinition<N, A, S, O>): Op<N, A, S, O> {
  if (registry.has(definition.name)) {
    throw argumentError("defineOp", `an op named "${definition.name}" is already registered`);
  }
  checkOutputNames(definition.name, definition.outputs);
  // The tape treats every op alike, so the op's own input, attr and output types are erased here.
  const erased: AnyOpDefinition = {
    ...definition,
    forward: (inputs, attrs) =>
      definition.forward(inputs as InputTensors<N>, attrs as A) as ReturnType<
        AnyOpDefinition["forward"]
      >,
    vjp: definition.vjp && ((ctx) => definition.vjp!(ctx as VjpContext<N, A, S, O>)),
    batch:
      definition.batch &&
      ((ctx) =>
        definition.batch!(ctx as BatchContext<N, A>) as unknown as BatchResult<readonly string[]>),
    elementwise:
      definition.elementwise && ((attrs, dtype) => definition.elementwise!(attrs as A, dtype)),
  };
  const arity = definition.inputs.length;
  const single = hasOneOutput(definition);
  const apply = (inputs: readonly TensorLike[], attrs?: A): OpOutputs<O> => {
    const ys = applyOp(erased, toTensors(erased, inputs), checkAttrs(definition.name, attrs)).ys;
    return (single ? ys[0] : ys) as OpOutputs<O>;
  };
  registry.set(definition.name, { definition: erased, apply: apply as RegisteredOp["apply"] });
  const op = (...args: unknown[]): OpOutputs<O> => {
    if (!definition.variadic && args.length > arity + 1) {
      throw argumentError(
        definition.name,
        `expected ${arity} inputs and optional attrs, got ${args.length} arguments`,
      );
    }
    return apply(args.slice(0, arity) as TensorLike[], args[arity] as A | undefined);
  };
  return Object.assign(op, { definition, apply }) as Op<N, A, S, O>;
}

function checkOutputNames(op: string, outputs: unknown): void {
  if (outputs === undefined) return;
  const valid =
    Array.isArray(outputs) &&
    outputs.length > 0 &&
    outputs.every((name) => typeof name === "string") &&
    new Set(outputs).size === outputs.length;
  if (!valid) {
    throw argumentError(
      "defineOp",
      `${op}: outputs must be a non-empty list of distinct names, got ${show(outputs)}`,
    );
  }
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
 * (recursively, so outer levels record it too), then records it on that level. @internal Also
 * for ops that are not registered (customVjp's and checkpoint's, made per call).
 */
export function applyOp(op: AnyOpDefinition, inputs: Tensor[], attrs: unknown): Applied {
  let top: Trace | null = null;
  for (let i = 0; i < inputs.length; i++) {
    const x = live(inputs[i]!);
    inputs[i] = x;
    if (x.trace !== null && (top === null || x.trace.level > top.level)) top = x.trace;
  }
  if (top === null) {
    if (anyDonated) for (const x of inputs) checkNotDonated(op.name, x);
    const compute = () => forwardOf(op, inputs, attrs);
    const applied = forwardHook === null ? compute() : forwardHook(op, compute, { inputs, attrs });
    // Off, anomaly mode costs this test; on, outputs are checked, and each recorded op keeps
    // where user code applied it, for a report from its vjp.
    if (anomalyMode) checkForward(op, inputs, applied.ys);
    return applied;
  }
  if (top.interpreter !== null) {
    return top.interpreter.apply(op, inputs, attrs, (xs) => applyOp(op, xs, attrs));
  }
  const innerInputs = inputs.map((x) => lower(x, top));
  const { ys, saved } = applyOp(op, innerInputs, attrs);
  if (op.vjp === undefined || !ys.some((y) => isFloat(y.dtype))) return { ys, saved };
  const site = anomalyMode || keepingCallSites ? captureSite() : undefined;
  const node = { op, inputs, innerInputs, innerOutputs: ys, attrs, saved, site };
  // Only float outputs are views of the trace: an int32 output carries no gradient.
  return { ys: traceOutputs(ys, top, node), saved };
}

/** @internal What an op was applied to, as a forward hook sees it. */
export interface OpCall {
  readonly inputs: readonly Tensor[];
  readonly attrs: unknown;
}

/**
 * @internal Sees every op computed below all traces and may return a result kept from an earlier
 * run instead of computing it (checkpoint's policies): `compute` runs the op.
 */
export type ForwardHook = (op: AnyOpDefinition, compute: () => Applied, call: OpCall) => Applied;

let forwardHook: ForwardHook | null = null;

/** @internal Whether a forward hook sees the ops computed now (recordOps, checkpoint). */
export function hasForwardHook(): boolean {
  return forwardHook !== null;
}

/** @internal Runs f with `hook` seeing the ops it computes, given the hook it replaces. */
export function withForwardHook<R>(
  hook: (previous: ForwardHook | null) => ForwardHook,
  f: () => R,
): R {
  const previous = forwardHook;
  forwardHook = hook(previous);
  try {
    return f();
  } finally {
    forwardHook = previous;
  }
}

/** Runs op's forward and checks that it returned what the op declares. */
function forwardOf(op: AnyOpDefinition, inputs: Tensor[], attrs: unknown): Applied {
  const out = op.forward(inputs, attrs);
  const single = hasOneOutput(op);
  if (out instanceof Tensor && single) return { ys: [out], saved: undefined };
  if (Array.isArray(out) && !single) return { ys: checkOutputs(op, out), saved: undefined };
  const result = out as ForwardResult<unknown, readonly string[]>;
  if (result?.y instanceof Tensor && single) return { ys: [result.y], saved: result.saved };
  if (Array.isArray(result?.y) && !single) {
    return { ys: checkOutputs(op, result.y), saved: result.saved };
  }
  const expected = single
    ? "a Tensor or { y, saved }"
    : `a list of ${op.outputs!.length} tensors (${op.outputs!.join(", ")}) or { y: that list, saved }`;
  throw new TapegradError("INVALID_STATE", `${op.name}: forward must return ${expected}`);
}

function checkOutputs(op: AnyOpDefinition, ys: readonly unknown[]): readonly Tensor[] {
  const names = op.outputs!;
  if (ys.length !== names.length || !ys.every((y) => y instanceof Tensor)) {
    throw new TapegradError(
      "INVALID_STATE",
      `${op.name}: forward must return ${names.length} tensors (${names.join(", ")}), got ` +
        `${ys.length} values`,
    );
  }
  return ys as readonly Tensor[];
}
