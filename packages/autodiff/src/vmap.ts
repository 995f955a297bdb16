import { allocate } from "./dtype.js";
import { TapegradError, argumentError, show, showShape } from "./errors.js";
import {
  applyOp,
  listOps,
  type AnyOpDefinition,
  type BatchedResiduals,
  type BatchResult,
} from "./registry.js";
import { closeTrace, live, openTrace, type Applied, type Interpreter, type Trace } from "./tape.js";
import { Tensor, tensor, zeros } from "./tensor.js";
import { isContainer } from "./tree.js";
import { broadcastTo } from "./ops/broadcast.js";
import { stack } from "./ops/concat.js";
import { reshape } from "./ops/reshape.js";
import { slice } from "./ops/slice.js";
import { batchFirst, transpose } from "./ops/transpose.js";

/**
 * Where a value is mapped: an axis of it (negative counts from the end), null for a value that is
 * the same for every slice, or — for a tree — a tree of the same structure holding those at its
 * leaves (a number or null at a container applies to everything under it).
 */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [key: string]: AxisSpec };

/** Options of `vmap`. */
export interface VmapOptions {
  /**
   * Where each argument is mapped: one AxisSpec for all arguments, or a list with one per
   * argument (default 0: every argument along its first axis).
   */
  readonly inAxes?: AxisSpec | readonly AxisSpec[];
  /** Where the batch axis goes in each output (default 0); a tree for a tree of outputs. */
  readonly outAxes?: AxisSpec;
  /** The batch size, needed only when no argument is mapped. */
  readonly axisSize?: number;
}

/**
 * Vectorizing map: `vmap(f)(xs)` is `f` applied to every slice of `xs` along the mapped axis, the
 * results stacked along `outAxes` — computed in one pass, each op applying its batching rule to
 * the whole batch (ops without one loop over the slices). Arguments and results are trees of
 * tensors; numbers and unmapped arguments are shared by every slice, and result leaves that are
 * not tensors or numbers pass through. Composes with every transform in both orders:
 * `vmap(grad(f))` gives per-example gradients.
 */
export function vmap<Args extends unknown[], R>(
  f: (...args: Args) => R,
  options: VmapOptions = {},
): (...args: Args) => R {
  const { inAxes = 0, outAxes = 0, axisSize } = options;
  if (axisSize !== undefined && !(Number.isSafeInteger(axisSize) && axisSize >= 0)) {
    throw argumentError("vmap", `axisSize must be a non-negative integer, got ${show(axisSize)}`);
  }
  return (...args: Args): R => {
    const specs = argumentSpecs(inAxes, args.length);
    const size = batchSize(args, specs, axisSize);
    const interpreter = new BatchInterpreter(size);
    const trace = openTrace(interpreter);
    interpreter.trace = trace;
    try {
      const mapped = args.map((a, i) =>
        mapTree(a, specs[i]!, `args[${i}]`, (leaf, axis, path) =>
          axis === null ? leaf : mappedView(...mappedLeaf(leaf, axis, path), trace),
        ),
      );
      const out = f(...(mapped as Args));
      // While the level is open, so that its views are told apart from leaked inner ones.
      return mapTree(out, outAxes, "output", (y, axis, path) =>
        unbatch(y, axis, trace, size, path),
      ) as R;
    } finally {
      closeTrace(trace);
    }
  };
}

/** The names of the registered ops that have no batching rule: vmap loops over their slices. */
export function batchFallbackOps(): string[] {
  return listOps()
    .filter((op) => op.definition.batch === undefined)
    .map((op) => op.definition.name);
}

/** vmap's level: applies each op's batching rule, or loops over the slices without one. */
class BatchInterpreter implements Interpreter {
  trace!: Trace;

  constructor(readonly size: number) {}

  apply(
    op: AnyOpDefinition,
    inputs: readonly Tensor[],
    attrs: unknown,
    below: (inputs: Tensor[]) => Applied,
  ): Applied {
    const inner = inputs.map((x) => (x.trace === this.trace ? x.inner! : x));
    const axes = inputs.map((x) => (x.trace === this.trace ? x.batchAxis : null));
    // An empty batch takes the loop, which learns the results' shapes from one slice of zeros:
    // rules need not handle it.
    const batched =
      op.batch === undefined || (this.size === 0 && !rulesForEmptyBatches.has(op))
        ? loopOverSlices(op, inner, axes, this.size, below)
        : fromRule(
            op,
            op.batch({
              inputs: inner,
              axes,
              size: this.size,
              attrs,
              applyWithResiduals: (xs, a) => applyOp(op, [...xs], a),
            }),
          );
    const view = (y: Tensor, axis: number | null, what: string) => {
      if (axis === null) return y;
      if (y.shape[axis] !== this.size) {
        throw new TapegradError(
          "INVALID_STATE",
          `${op.name}: its batching rule returned ${what} of shape ${showShape(y.shape)} ` +
            `with batch axis ${axis}, which should have the batch size ${this.size}`,
        );
      }
      return mappedView(y, axis, this.trace);
    };
    const { saved } = batched;
    return {
      ys: batched.ys.map((y, k) => view(y, batched.axes[k] ?? null, `output ${k}`)),
      saved: saved === undefined ? undefined : view(saved.value, saved.axis, "its residuals"),
    };
  }
}

/**
 * @internal Ops whose batching rule handles an empty batch too: function ops (customVjp,
 * checkpoint), whose rule maps the user's function, residuals and all, with vmap itself.
 */
export const rulesForEmptyBatches = new WeakSet<AnyOpDefinition>();

/** A batching rule's result as lists, checked against the op's outputs. */
function fromRule(op: AnyOpDefinition, result: BatchResult<readonly string[]>): Batched {
  const ys = (Array.isArray(result.y) ? result.y : [result.y]) as Tensor[];
  const count = op.outputs?.length ?? 1;
  if (ys.length !== count || result.axes.length !== count) {
    throw new TapegradError(
      "INVALID_STATE",
      `${op.name}: its batching rule must return ${count} output(s) and as many axes, got ` +
        `${ys.length} and ${result.axes.length}`,
    );
  }
  return { ys, axes: result.axes, saved: result.saved };
}

/** Outputs for the whole batch with their batch axes, and the residuals for the vjp. */
interface Batched {
  readonly ys: readonly Tensor[];
  readonly axes: readonly (number | null)[];
  readonly saved: BatchedResiduals | undefined;
}

/**
 * The fallback for an op with no batching rule: the op on each slice, the results stacked. So
 * are residuals kept for the vjp, when they are a tensor (maxPool2d's argmax indices).
 */
function loopOverSlices(
  op: AnyOpDefinition,
  inner: readonly Tensor[],
  axes: readonly (number | null)[],
  size: number,
  below: (inputs: Tensor[]) => Applied,
): Batched {
  // With no slices, one slice of zeros gives the results' shapes and dtypes.
  const results: Applied[] = [];
  for (let b = 0; b < Math.max(size, 1); b++) {
    const slice = inner.map((x, i) => {
      const axis = axes[i];
      if (axis === null || axis === undefined) return x;
      return size === 0 ? zeros(withoutAxis(x.shape, axis), x.dtype) : sliceAt(x, axis, b);
    });
    results.push(below(slice));
  }
  const stacked = (parts: Tensor[]) =>
    size === 0 ? zeros([0, ...parts[0]!.shape], parts[0]!.dtype) : stack(parts, 0);
  const ys = results[0]!.ys.map((_, k) => stacked(results.map((r) => r.ys[k]!)));
  const saved = results.map((r) => r.saved);
  if (saved.every((s) => s === undefined)) return { ys, axes: ys.map(() => 0), saved: undefined };
  if (!saved.every((s) => s instanceof Tensor)) {
    throw new TapegradError(
      "INVALID_STATE",
      `${op.name}: its forward keeps residuals that are not a tensor, which vmap cannot stack: ` +
        `give the op a batching rule`,
    );
  }
  return { ys, axes: ys.map(() => 0), saved: { value: stacked(saved as Tensor[]), axis: 0 } };
}

/** Slice b of x along `axis`, without that axis. */
function sliceAt(x: Tensor, axis: number, b: number): Tensor {
  const begin = x.shape.map((_, i) => (i === axis ? b : 0));
  const end = x.shape.map((d, i) => (i === axis ? b + 1 : d));
  return reshape(slice(x, begin, end), withoutAxis(x.shape, axis));
}

function withoutAxis(shape: readonly number[], axis: number): number[] {
  return shape.filter((_, i) => i !== axis);
}

/** A view of `trace` standing for each slice of `x` along `axis`: it holds no elements. */
function mappedView(x: Tensor, axis: number, trace: Trace): Tensor {
  return new Tensor(allocate(x.dtype, 0), withoutAxis(x.shape, axis), trace, x, null, 0, axis);
}

/** A result leaf of the mapped function as the batch: its batch axis moved to `axis`. */
function unbatch(
  leaf: unknown,
  axis: number | null,
  trace: Trace,
  size: number,
  path: string,
): unknown {
  // Leaves that are neither (labels, null) cannot vary between slices: they pass through.
  const y = typeof leaf === "number" ? tensor(leaf) : leaf;
  if (!(y instanceof Tensor)) return leaf;
  const value = live(y);
  const mapped = value.trace === trace;
  if (axis === null) {
    if (mapped) {
      throw argumentError(
        "vmap",
        `${path} differs between slices, so its outAxes entry cannot be null`,
      );
    }
    return value;
  }
  const rank = value.ndim + 1;
  const to = axisIn(axis, rank, `${path} has rank ${value.ndim} + 1 for the batch`);
  const batch = mapped
    ? batchFirst(value.inner!, value.batchAxis!)
    : broadcastTo(reshape(value, [1, ...value.shape]), [size, ...value.shape]);
  if (to === 0) return batch;
  const perm = [...Array(rank).keys()].slice(1);
  perm.splice(to, 0, 0);
  return transpose(batch, perm);
}

/** One AxisSpec per argument. */
function argumentSpecs(inAxes: AxisSpec | readonly AxisSpec[], count: number): AxisSpec[] {
  if (!Array.isArray(inAxes)) return new Array<AxisSpec>(count).fill(inAxes as AxisSpec);
  if (inAxes.length !== count) {
    throw argumentError(
      "vmap",
      `inAxes has ${inAxes.length} entries but the function got ${count} arguments ` +
        `(give one entry per argument, or one number or null for all)`,
    );
  }
  return [...inAxes];
}

/** The common length of every mapped axis (or axisSize); an error names a disagreeing one. */
function batchSize(args: readonly unknown[], specs: readonly AxisSpec[], axisSize?: number) {
  let size = axisSize;
  let first = "axisSize";
  args.forEach((a, i) =>
    mapTree(a, specs[i]!, `args[${i}]`, (leaf, spec, path) => {
      if (spec === null) return leaf;
      const [x, axis] = mappedLeaf(leaf, spec, path);
      const length = x.shape[axis]!;
      if (size === undefined) {
        size = length;
        first = path;
      } else if (length !== size) {
        throw argumentError(
          "vmap",
          `${path} has ${length} slices along axis ${axis} but ${first} has ${size}: ` +
            `every mapped argument needs the same batch size`,
        );
      }
      return leaf;
    }),
  );
  if (size === undefined) {
    throw argumentError("vmap", "no argument is mapped (every inAxes is null): give axisSize");
  }
  return size;
}

/** Walks `tree` with its AxisSpec: `visit` gets every leaf with its axis; returns their tree. */
type Visit = (leaf: unknown, axis: number | null, path: string) => unknown;

function mapTree(tree: unknown, spec: AxisSpec, path: string, visit: Visit): unknown {
  if (spec === null || typeof spec === "number") return mapLeaves(tree, spec, path, visit);
  if (Array.isArray(tree) && Array.isArray(spec) && tree.length === spec.length) {
    return tree.map((t, i) => mapTree(t, spec[i] as AxisSpec, `${path}[${i}]`, visit));
  }
  if (isContainer(tree) && !Array.isArray(tree) && isContainer(spec) && !Array.isArray(spec)) {
    const keys = Object.keys(tree);
    const specKeys = Object.keys(spec);
    if (keys.length === specKeys.length && keys.every((k) => k in spec)) {
      const record = spec as Record<string, AxisSpec>;
      return Object.fromEntries(
        keys.map((k) => [
          k,
          mapTree((tree as Record<string, unknown>)[k], record[k]!, `${path}.${k}`, visit),
        ]),
      );
    }
  }
  throw argumentError(
    "vmap",
    `the axes given for ${path} (${show(spec)}) do not match its structure (${show(tree)})`,
  );
}

/** Every leaf of `tree` with one axis. */
function mapLeaves(tree: unknown, axis: number | null, path: string, visit: Visit): unknown {
  if (Array.isArray(tree)) return tree.map((t, i) => mapLeaves(t, axis, `${path}[${i}]`, visit));
  if (isContainer(tree)) {
    return Object.fromEntries(
      Object.entries(tree).map(([k, v]) => [k, mapLeaves(v, axis, `${path}.${k}`, visit)]),
    );
  }
  return visit(tree, axis, path);
}

/** An argument leaf mapped along `axis` (normalised): a tensor with that axis, else an error. */
function mappedLeaf(leaf: unknown, axis: number, path: string): [Tensor, number] {
  if (!(leaf instanceof Tensor)) {
    throw argumentError(
      "vmap",
      `${path} is ${show(leaf)}, not a tensor: it cannot be mapped (give it inAxes null)`,
    );
  }
  if (leaf.ndim === 0) {
    throw argumentError("vmap", `${path} is a scalar: it has no axis ${axis} to map over`);
  }
  return [leaf, axisIn(axis, leaf.ndim, `${path} has shape ${showShape(leaf.shape)}`)];
}

/** `axis` of a value of rank `rank`, counted from the front; an error names the value. */
function axisIn(axis: number, rank: number, what: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw argumentError(
      "vmap",
      `${what}: axis ${show(axis)} is out of range (expected an integer from ${-rank} to ${rank - 1})`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}
