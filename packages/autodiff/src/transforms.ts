import { detectAnomaly } from "./anomaly.js";
import { argnumList, type Argnums, type Selected } from "./argnums.js";
import { isFloat } from "./dtype.js";
import { TapegradError, argumentError, show, showShape } from "./errors.js";
import {
  backward,
  closeTrace,
  live,
  lower,
  openTrace,
  withoutTapes,
  traceInput,
  type Trace,
} from "./tape.js";
import { Tensor, full, tensor, zerosLike, type TensorLike } from "./tensor.js";
import { isContainer, treeMap } from "./tree.js";
import { shapesEqual } from "./shape.js";
import { add } from "./ops/binary.js";
import { cast } from "./ops/cast.js";

/** Options of `grad`: which arguments to differentiate, and anomaly mode. */
export interface GradOptions<I> {
  /** Which positional arguments to differentiate: a number gives one gradient, an array a list. */
  readonly argnums?: I;
  /**
   * Run each call in anomaly mode (as `detectAnomaly`): the first op whose forward or vjp turns
   * finite values into NaN or ±Infinity throws a NON_FINITE error. Default false.
   */
  readonly detectAnomaly?: boolean;
}

/** Options of `valueAndGrad`: `argnums`, and `hasAux` for functions that return extra data. */
export interface ValueAndGradOptions<I> extends GradOptions<I> {
  /** f returns `[value, aux]`; aux is passed through untouched. */
  readonly hasAux?: boolean;
}

/**
 * The gradient of a scalar-valued `f` with respect to argument `argnums` (default 0). Arguments
 * may be tensors, numbers or trees of them; each gradient has its argument's structure.
 * Integer tensors and non-tensor leaves get no gradient (zeros and null respectively).
 */
export function grad<Args extends unknown[], const I extends Argnums = 0>(
  f: (...args: Args) => TensorLike,
  options: GradOptions<I> = {},
): (...args: Args) => Selected<Args, I> {
  const withValue = valueAndGrad(f, options);
  return (...args) => withValue(...args)[1];
}

/** Like `grad`, returning `[value, grads]`; with `hasAux`, f returns `[value, aux]` and so does this. */
export function valueAndGrad<Args extends unknown[], const I extends Argnums = 0, R = TensorLike>(
  f: (...args: Args) => R,
  options: ValueAndGradOptions<I> = {},
): (...args: Args) => [R, Selected<Args, I>] {
  const argnums: Argnums = options.argnums ?? 0;
  const checked = options.detectAnomaly ?? false;
  if (typeof checked !== "boolean") {
    throw argumentError("grad", `detectAnomaly must be a boolean, got ${show(checked)}`);
  }
  const compute = (...args: Args): [R, Selected<Args, I>] => {
    const list = argnumList("grad", argnums, args.length);
    const trace = openTrace();
    let traced: unknown[];
    let result: R;
    let value: Tensor;
    try {
      traced = args.map((a, i) => (list.includes(i) ? traceTree(a, trace) : a));
      result = f(...(traced as Args));
      let out: unknown = result;
      if (options.hasAux) {
        if (!Array.isArray(result) || result.length !== 2) {
          throw argumentError("valueAndGrad", "with hasAux, f must return [value, aux]");
        }
        out = result[0];
      }
      // While this trace is still open: a value leaked from a finished inner transform is
      // stripped to the level beneath it, where it may depend on this trace's inputs.
      value = live(asScalar(out));
    } finally {
      closeTrace(trace);
    }
    const cotangentOf = backward(trace, [value], [full(value.shape, 1, value.dtype)], add, (g, x) =>
      cast(g, x.dtype),
    );
    const grads = list.map((i) => gradientTree(traced[i], args[i], trace, cotangentOf));
    const plainValue = lower(value, trace);
    const returned = (options.hasAux ? [plainValue, (result as unknown[])[1]] : plainValue) as R;
    return [returned, (typeof argnums === "number" ? grads[0] : grads) as Selected<Args, I>];
  };
  return checked ? (...args) => detectAnomaly(() => compute(...args)) : compute;
}

function asScalar(out: unknown): Tensor {
  if (typeof out === "number") return tensor(out, { dtype: "float64" });
  if (!(out instanceof Tensor)) {
    throw argumentError(
      "grad",
      `f must return a scalar tensor, got ${isContainer(out) ? "a tree" : typeof out}`,
    );
  }
  if (out.size !== 1) {
    throw argumentError(
      "grad",
      `f must return a scalar (one element) to take its gradient, got shape ${showShape(out.shape)}; use vjp for non-scalar outputs`,
    );
  }
  if (!isFloat(out.dtype))
    throw argumentError("grad", `f must return a float tensor, got ${out.dtype}`);
  return out;
}

/** Marks every differentiable leaf of `tree` as an input of `trace`; numbers become float64. */
function traceTree(tree: unknown, trace: Trace): unknown {
  return treeMap((leaf: unknown) => {
    if (typeof leaf === "number") return traceInput(tensor(leaf, { dtype: "float64" }), trace);
    if (leaf instanceof Tensor && isFloat(leaf.dtype)) return traceInput(live(leaf), trace);
    return leaf;
  }, tree);
}

function gradientTree(
  traced: unknown,
  original: unknown,
  trace: Trace,
  cotangentOf: (view: Tensor) => Tensor | undefined,
): unknown {
  return treeMap(
    (view: unknown, leaf: unknown) => {
      if (!(view instanceof Tensor) || view.trace !== trace) {
        return leaf instanceof Tensor ? zerosLike(leaf) : null;
      }
      const g = cotangentOf(view) ?? zerosLike(view);
      // A number's gradient is a number, unless an outer transform is tracing through it: then
      // it stays a tensor so that the outer level keeps its dependence.
      if (typeof leaf === "number" && live(g).trace === null) return g.item();
      return g;
    },
    traced,
    original,
  );
}

/**
 * Evaluates `f` at `primals` and returns `[out, pullback]`: `pullback(ct)` maps a cotangent of
 * out's structure to one cotangent per primal, each with that primal's structure. Callable
 * any number of times. For anomaly mode, call vjp and the pullback inside `detectAnomaly`.
 */
export function vjp<Args extends unknown[], R>(
  f: (...args: Args) => R,
  ...primals: Args
): [R, (cotangent: R) => Args] {
  const { trace, traced, out } = record(f, primals);
  const plainOut = treeMap(
    (leaf: unknown) => (leaf instanceof Tensor ? lower(leaf, trace) : leaf),
    out,
  );
  const pullback = (cotangent: R): Args => {
    const outputs: Tensor[] = [];
    const cts: Tensor[] = [];
    let i = -1;
    // Pair each output with its cotangent by tree path (treeMap matches objects by key).
    treeMap(
      (leaf: unknown, ct: unknown) => {
        i++;
        if (!(leaf instanceof Tensor)) return null;
        if (!(ct instanceof Tensor)) {
          throw argumentError("vjp", `cotangent ${i} must be a Tensor, got ${typeof ct}`);
        }
        if (!shapesEqual(ct.shape, leaf.shape)) {
          throw new TapegradError(
            "SHAPE_MISMATCH",
            `vjp: cotangent ${i} has shape ${showShape(ct.shape)}, output has ${showShape(leaf.shape)}`,
          );
        }
        outputs.push(leaf);
        cts.push(ct);
        return null;
      },
      out,
      cotangent,
    );
    const cotangentOf = backward(trace, outputs, cts, add, (g, x) => cast(g, x.dtype));
    return primals.map((p, i) => gradientTree(traced[i], p, trace, cotangentOf)) as Args;
  };
  return [plainOut, pullback];
}

/** What `record` returns: the closed trace, the traced primals and f's output as views of it. */
export interface Recording<R> {
  readonly trace: Trace;
  readonly traced: unknown[];
  readonly out: R;
}

/**
 * @internal Runs f on `primals` traced at a new level and returns that level's tape: the base
 * of `vjp`, and of the gradient checker, which reads the recorded ops themselves.
 */
export function record<Args extends unknown[], R>(
  f: (...args: Args) => R,
  primals: Args,
): Recording<R> {
  const trace = openTrace();
  try {
    const traced = primals.map((p) => traceTree(p, trace));
    // As in valueAndGrad: strip views of finished inner transforms while this trace is open.
    const out = treeMap(
      (leaf: unknown) => (leaf instanceof Tensor ? live(leaf) : leaf),
      f(...(traced as Args)),
    );
    return { trace, traced, out };
  } finally {
    closeTrace(trace);
  }
}

/** x as a constant: no gradient flows through it, at any level of nesting. */
export function stopGradient(x: Tensor): Tensor {
  return withoutTapes(x);
}
