import { anomalyMode, checkedVjp } from "./anomaly.js";
import { TapegradError, showShape } from "./errors.js";
import { shapesEqual } from "./shape.js";
import { Tensor } from "./tensor.js";
import type { AnyOpDefinition, Saved } from "./registry.js";

/**
 * One level of tracing, opened by a transform (`grad`, `vjp`, …) for the duration of a call.
 * Levels nest: an op applied to values of several levels is recorded on the innermost one and
 * computed, one level down, on the values as the outer levels see them — so a vjp rule, written
 * with ops, is itself recorded by the outer levels and gradients of gradients come out right.
 */
export class Trace {
  readonly level: number;
  /** The ops recorded at this level, in execution order (a topological order by construction). */
  readonly nodes: TapeNode[] = [];
  active = true;

  constructor(level: number) {
    this.level = level;
  }
}

/** One recorded op application: what its vjp needs, one level down. */
export interface TapeNode {
  readonly op: AnyOpDefinition;
  /** The inputs as given at this level: views of this trace (they need gradients) or constants. */
  readonly inputs: readonly Tensor[];
  /** The inputs one level down, as the vjp sees them. */
  readonly innerInputs: readonly Tensor[];
  readonly innerOutput: Tensor;
  readonly attrs: unknown;
  readonly saved: Saved;
  /** Where the op was applied: captured in anomaly mode and for the gradient checker's reports. */
  readonly site: Error | undefined;
}

const openTraces: Trace[] = [];
let nextLevel = 1;

/** Opens a new innermost trace level. */
export function openTrace(): Trace {
  const trace = new Trace(nextLevel++);
  openTraces.push(trace);
  return trace;
}

/** Closes `trace`; views of it that escape become constants to every later op. */
export function closeTrace(trace: Trace): void {
  trace.active = false;
  const i = openTraces.lastIndexOf(trace);
  if (i >= 0) openTraces.splice(i, 1);
}

/** Strips views of closed traces: a value leaked from a finished transform is a constant. */
export function live(x: Tensor): Tensor {
  while (x.trace !== null && !x.trace.active) x = x.inner!;
  return x;
}

/** The value as seen by `trace`'s caller: the view one level below `trace`, or x itself. */
export function lower(x: Tensor, trace: Trace): Tensor {
  return x.trace === trace ? x.inner! : x;
}

/** Strips every trace level: the plain value underneath. */
export function plain(x: Tensor): Tensor {
  while (x.inner !== null) x = x.inner;
  return x;
}

/** Marks `x` as an input of `trace`: ops on the result are recorded there. */
export function traceInput(x: Tensor, trace: Trace): Tensor {
  return new Tensor(x.buffer, x.shape, trace, x, null);
}

/** @internal Wraps an op's result as a view of `trace` produced by `node`. */
export function traceOutput(y: Tensor, trace: Trace, node: TapeNode): Tensor {
  trace.nodes.push(node);
  return new Tensor(y.buffer, y.shape, trace, y, node);
}

type CotangentKey = TapeNode | Tensor;

function keyOf(view: Tensor): CotangentKey {
  return view.node ?? view;
}

/**
 * Walks `trace` backwards from `outputs` seeded with `cotangents`, calling each recorded op's
 * vjp once all of its output's cotangent has arrived (and `observe` with that cotangent and the
 * vjp's gradients: the gradient checker's estimate of rounding error). Iterative, so chains of
 * any length work. Returns a function giving the accumulated cotangent of any view of `trace`
 * (undefined if nothing flowed into it).
 */
export function backward(
  trace: Trace,
  outputs: readonly Tensor[],
  cotangents: readonly Tensor[],
  accumulate: (a: Tensor, b: Tensor) => Tensor,
  cast: (x: Tensor, like: Tensor) => Tensor,
  observe?: (node: TapeNode, dy: Tensor, grads: readonly (Tensor | null)[]) => void,
): (view: Tensor) => Tensor | undefined {
  const cts = new Map<CotangentKey, Tensor>();
  const add = (key: CotangentKey, ct: Tensor) => {
    const prev = cts.get(key);
    cts.set(key, prev === undefined ? ct : accumulate(prev, ct));
  };
  outputs.forEach((out, i) => {
    if (out.trace === trace) add(keyOf(out), cotangents[i]!);
  });
  for (let n = trace.nodes.length - 1; n >= 0; n--) {
    const node = trace.nodes[n]!;
    const dy = cts.get(node);
    if (dy === undefined) continue;
    cts.delete(node);
    const needsGrad = node.inputs.map((x) => x.trace === trace);
    if (!needsGrad.includes(true)) continue;
    const ctx = {
      dy,
      inputs: node.innerInputs,
      y: node.innerOutput,
      attrs: node.attrs,
      saved: node.saved,
      needsGrad,
    };
    const grads = anomalyMode
      ? checkedVjp(
          node,
          () => node.op.vjp!(ctx),
          (i) => inputName(node.op, i),
          dy,
        )
      : node.op.vjp!(ctx);
    checkGradientCount(node, grads);
    observe?.(node, dy, grads);
    for (let i = 0; i < node.inputs.length; i++) {
      const g = grads[i];
      if (!needsGrad[i] || g === null || g === undefined) continue;
      const x = node.innerInputs[i]!;
      if (!shapesEqual(g.shape, x.shape)) {
        throw new TapegradError(
          "SHAPE_MISMATCH",
          `${node.op.name}: vjp returned a gradient of shape ${showShape(g.shape)} for input ` +
            `${inputName(node.op, i)} of shape ${showShape(x.shape)}`,
        );
      }
      add(keyOf(node.inputs[i]!), g.dtype === x.dtype ? g : cast(g, x));
    }
  }
  return (view) => cts.get(keyOf(view));
}

function checkGradientCount(node: TapeNode, grads: readonly (Tensor | null)[]): void {
  if (grads.length !== node.inputs.length) {
    throw new TapegradError(
      "INVALID_STATE",
      `${node.op.name}: vjp returned ${grads.length} gradients for ${node.inputs.length} inputs`,
    );
  }
}

/** The name of input i of `op`, for messages: `w`, or `xs[2]` for list inputs. */
export function inputName(
  op: { inputs: readonly string[]; variadic?: boolean },
  i: number,
): string {
  return op.variadic ? `${op.inputs[0]}[${i}]` : (op.inputs[i] ?? `input ${i}`);
}

/** True while any transform is tracing (for fast paths that skip bookkeeping otherwise). */
export function isTracing(): boolean {
  return openTraces.length > 0;
}
