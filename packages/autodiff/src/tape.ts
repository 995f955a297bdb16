import { anomalyMode, checkedVjp } from "./anomaly.js";
import { TapegradError, inputName, showShape } from "./errors.js";
import { shapesEqual } from "./shape.js";
import { isFloat } from "./dtype.js";
import { Tensor, zerosLike } from "./tensor.js";
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
  /** For a level that applies ops itself instead of recording them (vmap's), how; else null. */
  readonly interpreter: Interpreter | null;
  active = true;

  constructor(level: number, interpreter: Interpreter | null) {
    this.level = level;
    this.interpreter = interpreter;
  }
}

/**
 * How a level that is not a tape applies an op to values of its own: `inputs` are as given (views
 * of the level or constants), `below` applies the same op to values one level down. Returns the
 * outputs and the residuals the op's vjp will get. vmap's level calls the op's batching rule on
 * the batched values underneath.
 */
export interface Interpreter {
  apply(
    op: AnyOpDefinition,
    inputs: readonly Tensor[],
    attrs: unknown,
    below: (inputs: Tensor[]) => Applied,
  ): Applied;
  /**
   * For a level whose values stand for later calls' values too (jit's): throws, saying why, when
   * `reader` (`item`, `data`, …) reads one of them in JavaScript. Absent: values can be read.
   */
  checkRead?(reader: string): void;
}

/** An op's outputs, always as a list, and the residuals its forward kept. */
export interface Applied {
  /** The outputs, one per declared output. */
  readonly ys: readonly Tensor[];
  /** What forward kept for the vjp (undefined if nothing). */
  readonly saved: Saved;
}

/** One recorded op application: what its vjp needs, one level down. */
export interface TapeNode {
  readonly op: AnyOpDefinition;
  /** The inputs as given at this level: views of this trace (they need gradients) or constants. */
  readonly inputs: readonly Tensor[];
  /** The inputs one level down, as the vjp sees them. */
  readonly innerInputs: readonly Tensor[];
  /** The outputs one level down, one per declared output. */
  readonly innerOutputs: readonly Tensor[];
  readonly attrs: unknown;
  readonly saved: Saved;
  /** Where the op was applied: captured in anomaly mode and for the gradient checker's reports. */
  readonly site: Error | undefined;
}

const openTraces: Trace[] = [];
let nextLevel = 1;

/** @internal Told when a tape records an op and when its backward is done (profileTape). */
export interface TapeObserver {
  recorded(trace: Trace, node: TapeNode): void;
  finished(trace: Trace): void;
}

let observer: TapeObserver | null = null;

/** @internal Installs `next` (null: none) and returns the observer it replaces. */
export function observeTapes(next: TapeObserver | null): TapeObserver | null {
  const previous = observer;
  observer = next;
  return previous;
}

/** Opens a new innermost trace level: a tape, or a level applied by `interpreter`. */
export function openTrace(interpreter: Interpreter | null = null): Trace {
  const trace = new Trace(nextLevel++, interpreter);
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

/**
 * Strips the tape levels, keeping the levels that map (vmap's): the value as a constant to every
 * gradient transform, still one slice of each batch it belongs to.
 */
export function withoutTapes(x: Tensor): Tensor {
  if (x.trace === null) return x;
  const inner = withoutTapes(x.inner!);
  if (x.trace.interpreter === null) return inner;
  if (inner === x.inner) return x;
  return new Tensor(x.buffer, x.shape, x.trace, inner, null, 0, x.batchAxis);
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

/**
 * @internal Records `node` on `trace` and wraps its float outputs as views of `trace` produced
 * by it (an int32 output carries no gradient and stays as it is).
 */
export function traceOutputs(ys: readonly Tensor[], trace: Trace, node: TapeNode): Tensor[] {
  trace.nodes.push(node);
  observer?.recorded(trace, node);
  return ys.map((y, k) =>
    isFloat(y.dtype) ? new Tensor(y.buffer, y.shape, trace, y, node, k) : y,
  );
}

/** Whether op returns one tensor rather than a tuple: it declares no outputs, or just one. */
export function hasOneOutput(op: { readonly outputs?: readonly string[] }): boolean {
  return op.outputs === undefined || op.outputs.length === 1;
}

/**
 * Walks `trace` backwards from `outputs` seeded with `cotangents`, calling each recorded op's
 * vjp once all of its outputs' cotangents have arrived (and `observe` with those cotangents and
 * the vjp's gradients: the gradient checker's estimate of rounding error). Cotangents are kept
 * per (node, output); an output that nothing used gets zeros. Iterative, so chains of any length
 * work. Returns a function giving the accumulated cotangent of any view of `trace` (undefined if
 * nothing flowed into it).
 */
export function backward(
  trace: Trace,
  outputs: readonly Tensor[],
  cotangents: readonly Tensor[],
  accumulate: (a: Tensor, b: Tensor) => Tensor,
  cast: (x: Tensor, like: Tensor) => Tensor,
  observe?: (node: TapeNode, dys: readonly Tensor[], grads: readonly (Tensor | null)[]) => void,
): (view: Tensor) => Tensor | undefined {
  // A traced input's cotangent is keyed by the view; an op output's by its node, one slot each.
  const ofInputs = new Map<Tensor, Tensor>();
  const ofNodes = new Map<TapeNode, (Tensor | undefined)[]>();
  const add = (view: Tensor, ct: Tensor) => {
    const node = view.node;
    if (node === null) {
      const prev = ofInputs.get(view);
      ofInputs.set(view, prev === undefined ? ct : accumulate(prev, ct));
      return;
    }
    let slots = ofNodes.get(node);
    if (slots === undefined) {
      slots = new Array<Tensor | undefined>(node.innerOutputs.length);
      ofNodes.set(node, slots);
    }
    const prev = slots[view.output];
    slots[view.output] = prev === undefined ? ct : accumulate(prev, ct);
  };
  outputs.forEach((out, i) => {
    if (out.trace === trace) add(out, cotangents[i]!);
  });
  for (let n = trace.nodes.length - 1; n >= 0; n--) {
    const node = trace.nodes[n]!;
    const slots = ofNodes.get(node);
    if (slots === undefined) continue;
    ofNodes.delete(node);
    const needsGrad = node.inputs.map((x) => x.trace === trace);
    if (!needsGrad.includes(true)) continue;
    const dys = node.innerOutputs.map((y, k) => slots[k] ?? zerosLike(y));
    const one = hasOneOutput(node.op);
    const ctx = {
      dy: one ? dys[0]! : dys,
      inputs: node.innerInputs,
      y: one ? node.innerOutputs[0]! : node.innerOutputs,
      attrs: node.attrs,
      saved: node.saved,
      needsGrad,
    };
    const grads = anomalyMode ? checkedVjp(node, () => node.op.vjp!(ctx), dys) : node.op.vjp!(ctx);
    checkGradientCount(node, grads);
    observe?.(node, dys, grads);
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
      add(node.inputs[i]!, g.dtype === x.dtype ? g : cast(g, x));
    }
  }
  observer?.finished(trace);
  return (view) => {
    if (view.node === null) return ofInputs.get(view);
    return ofNodes.get(view.node)?.[view.output];
  };
}

function checkGradientCount(node: TapeNode, grads: readonly (Tensor | null)[]): void {
  if (grads.length !== node.inputs.length) {
    throw new TapegradError(
      "INVALID_STATE",
      `${node.op.name}: vjp returned ${grads.length} gradients for ${node.inputs.length} inputs`,
    );
  }
}

/** True while any transform is tracing (for fast paths that skip bookkeeping otherwise). */
export function isTracing(): boolean {
  return openTraces.length > 0;
}
