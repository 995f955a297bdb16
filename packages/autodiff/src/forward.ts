import { argnumList, type Argnums, type Selected } from "./argnums.js";
import { isFloat } from "./dtype.js";
import { TapegradError, argumentError, showShape } from "./errors.js";
import { live } from "./tape.js";
import { Tensor, tensor, zeros, zerosLike, type TensorLike } from "./tensor.js";
import { isContainer, treeFlatten, treeMap } from "./tree.js";
import { grad, vjp } from "./transforms.js";
import { vmap, type AxisSpec } from "./vmap.js";
import { shapeSize, shapesEqual } from "./shape.js";
import { cast } from "./ops/cast.js";
import { reshape } from "./ops/reshape.js";
import { slice } from "./ops/slice.js";
import { transpose } from "./ops/transpose.js";

// Forward mode is derived from the vjp rules, never written per op. The pullback u ↦ Jᵀu of f
// at x is itself recorded on a tape, and it is linear in u, so its own vjp, taken at u = 0 and
// applied to v, is (Jᵀ)ᵀv = Jv. Any op defineOp registers gets jvp, hvp and the Jacobians free.

/**
 * Evaluates f at `primals` and returns `[out, jvpAt]`: `jvpAt(...tangents)` is the directional
 * derivative J·v for tangents of the primals' structure, with out's structure. Linearising once
 * and calling jvpAt for many tangents (as jacfwd does) costs one reverse pass per call.
 */
export function linearize<Args extends unknown[], R>(
  f: (...args: Args) => R,
  ...primals: Args
): [R, (...tangents: Args) => R] {
  const [out, pullback] = vjp(f, ...primals);
  // u₀ = 0 of out's structure: any point works, as the pullback is linear in u.
  const zero = treeMap((leaf: unknown) => {
    if (leaf instanceof Tensor) return zerosLike(leaf);
    return typeof leaf === "number" ? 0 : leaf;
  }, out);
  const [, transposed] = vjp((u: R) => pullback(u), zero);
  const jvpAt = (...tangents: Args): R =>
    transposed(tangentTree("jvp", primals, tangents) as Args)[0];
  return [out, jvpAt];
}

/**
 * Forward mode: `[f(...primals), J·tangents]`, the output and its directional derivative along
 * `tangents` (one per primal, each with its primal's structure). The tangent of an output leaf
 * has that leaf's shape and dtype; int32 outputs get zeros. Tangents of int32 and non-tensor
 * primal leaves are ignored; a number primal takes a number (or scalar tensor) tangent.
 * Cost: one forward and about two reverse passes.
 */
export function jvp<Args extends unknown[], R>(
  f: (...args: Args) => R,
  primals: Args,
  tangents: Args,
): [R, R] {
  checkArgumentLists("jvp", primals, tangents);
  const [out, jvpAt] = linearize(f, ...primals);
  return [out, jvpAt(...tangents)];
}

/**
 * Hessian-vector product H·v of a scalar-valued f, forward-over-reverse: the jvp of grad f
 * (with respect to every argument) along `tangents`. Returns one result per primal, each with its
 * primal's structure; the Hessian never materialises. Cost: about four reverse passes.
 */
export function hvp<Args extends unknown[]>(
  f: (...args: Args) => TensorLike,
  primals: Args,
  tangents: Args,
): Args {
  checkArgumentLists("hvp", primals, tangents);
  const gradients = grad(f, { argnums: primals.map((_, i) => i) }) as (...args: Args) => Args;
  const [, hv] = jvp(gradients, primals, tangents);
  // As grad does: a number argument gets a number, unless an outer transform still traces it.
  return hv.map((h, i) =>
    treeMap(
      (leaf: unknown, primal: unknown) =>
        typeof primal === "number" && leaf instanceof Tensor && live(leaf).trace === null
          ? leaf.item()
          : leaf,
      h,
      primals[i],
    ),
  ) as Args;
}

/** Options of jacrev and jacfwd: which arguments to differentiate. */
export interface JacobianOptions<I> {
  /** Which positional arguments to differentiate (default 0): a number, or an array for a list. */
  readonly argnums?: I;
}

/** A tree of the same structure as T with a Tensor at each tensor or number leaf. */
export type TensorTree<T> = T extends Tensor | number
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: TensorTree<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: TensorTree<T[K]> }
      : null;

/** Out's structure, with the inputs' structure `In` at each output tensor or number leaf. */
export type Jacobian<Out, In> = Out extends Tensor | number
  ? TensorTree<In>
  : Out extends readonly unknown[]
    ? { -readonly [K in keyof Out]: Jacobian<Out[K], In> }
    : Out extends object
      ? { -readonly [K in keyof Out]: Jacobian<Out[K], In> }
      : null;

/**
 * The Jacobian of f with respect to argument `argnums` by reverse mode: one vjp per output
 * element, so best for few outputs. Its structure is out's, holding the argument's structure
 * at each output leaf: entry [y][x] is a tensor of shape y.shape ++ x.shape (a plain
 * tensor-to-tensor f gives one tensor of shape out.shape ++ in.shape). Non-tensor leaves: null.
 */
export function jacrev<Args extends unknown[], R, const I extends Argnums = 0>(
  f: (...args: Args) => R,
  options: JacobianOptions<I> = {},
): (...args: Args) => Jacobian<R, Selected<Args, I>> {
  return (...args) => {
    const { select, partial, single } = selection("jacrev", f, args, options.argnums ?? 0);
    const [out, pullback] = vjp(partial, ...select);
    // All the one-hot cotangents as one batch, pulled back by one vmapped pass.
    const { batch, count } = oneHotBatch([out], false);
    const rows = count === 0 ? null : vmap(pullback, { inAxes: axesOf(batch) })(batch[0] as R);
    let row = 0;
    const jacobian = treeMap((y: unknown) => {
      if (!(y instanceof Tensor) || !isFloat(y.dtype)) return constantBlock(y, select, single);
      const first = row;
      row += y.size;
      return mapInputs(select, single, (x, path) =>
        assemble(rows && block(leafAt(rows, path), first, y.size), x, y, "rows"),
      );
    }, out);
    return jacobian as Jacobian<R, Selected<Args, I>>;
  };
}

/**
 * The Jacobian by forward mode: one jvp per input element after a single linearisation, so best
 * for few inputs. Same structure and shapes as `jacrev`.
 */
export function jacfwd<Args extends unknown[], R, const I extends Argnums = 0>(
  f: (...args: Args) => R,
  options: JacobianOptions<I> = {},
): (...args: Args) => Jacobian<R, Selected<Args, I>> {
  return (...args) => {
    const { select, partial, single } = selection("jacfwd", f, args, options.argnums ?? 0);
    const [out, jvpAt] = linearize(partial, ...select);
    // All the one-hot tangents as one batch, pushed forward by one vmapped pass.
    const { batch, count, offsets } = oneHotBatch(select, true);
    const columns =
      count === 0
        ? null
        : vmap((...t: Args) => jvpAt(...t), { inAxes: axesOf(batch) })(...(batch as Args));
    let index = -1;
    const jacobian = treeMap((y: unknown) => {
      index++;
      if (!(y instanceof Tensor) || !isFloat(y.dtype)) return constantBlock(y, select, single);
      const leaf = index;
      return mapInputs(select, single, (x, path) => {
        const at = offsets.get(path);
        const pieces = columns && at && block(leafAtIndex(columns, leaf), at.first, at.size);
        return assemble(pieces ?? null, x, y, "columns");
      });
    }, out);
    return jacobian as Jacobian<R, Selected<Args, I>>;
  };
}

/**
 * The Hessian of a scalar-valued f, jacfwd(jacrev(f)) (forward-over-reverse): for argument x,
 * a tensor of shape x.shape ++ x.shape; for a tree of arguments, entry [p][q] has shape
 * p.shape ++ q.shape. For small functions: it costs one reverse pass per input element.
 */
export function hessian<Args extends unknown[], const I extends Argnums = 0>(
  f: (...args: Args) => TensorLike,
  options: JacobianOptions<I> = {},
): (...args: Args) => Jacobian<Selected<Args, I>, Selected<Args, I>> {
  const gradient = jacrev(f, options) as (...args: Args) => unknown;
  return jacfwd(gradient, options) as (
    ...args: Args
  ) => Jacobian<Selected<Args, I>, Selected<Args, I>>;
}

// ── Helpers ────────────────────────────────────────────────────────────────────────────────

function checkArgumentLists(fn: string, primals: unknown, tangents: unknown): void {
  if (!Array.isArray(primals) || !Array.isArray(tangents)) {
    throw argumentError(fn, "primals and tangents must be arrays, one entry per argument of f");
  }
  if (primals.length !== tangents.length) {
    throw argumentError(
      fn,
      `got ${tangents.length} tangents for ${primals.length} primals; pass one per argument`,
    );
  }
}

/**
 * Tangents as the transposed pullback needs them: a tensor at every tensor leaf of the primals
 * (zeros for int32 ones), numbers as float64 scalars, null at other leaves.
 */
function tangentTree(
  fn: string,
  primals: readonly unknown[],
  tangents: readonly unknown[],
): unknown[] {
  checkArgumentLists(fn, primals, tangents);
  return primals.map((primal, i) => {
    const paths = treeFlatten(primal).map(([path]) => path);
    let leafIndex = -1;
    return treeMap(
      (p: unknown, t: unknown) => {
        const where = `the tangent of argument ${i}${paths[++leafIndex] ? ` ("${paths[leafIndex]}")` : ""}`;
        if (p instanceof Tensor) {
          if (!isFloat(p.dtype)) return zerosLike(p);
          if (!(t instanceof Tensor) || !shapesEqual(t.shape, p.shape)) {
            throw new TapegradError(
              "SHAPE_MISMATCH",
              `${fn}: ${where} must be a tensor of its primal's shape ` +
                `${showShape(p.shape)}, got ${describeLeaf(t)}`,
            );
          }
          return t;
        }
        if (typeof p === "number") {
          if (typeof t === "number") return tensor(t, { dtype: "float64" });
          if (t instanceof Tensor && t.size === 1) return reshape(t, []);
          throw argumentError(fn, `${where} (a number) must be a number, got ${describeLeaf(t)}`);
        }
        return null;
      },
      primal,
      tangents[i],
    );
  });
}

function describeLeaf(t: unknown): string {
  if (t instanceof Tensor) return `shape ${showShape(t.shape)}`;
  if (t === null) return "null";
  return isContainer(t) ? "a tree" : typeof t;
}

/** The arguments a Jacobian differentiates, and f as a function of those alone. */
function selection<Args extends unknown[], R>(
  fn: string,
  f: (...args: Args) => R,
  args: Args,
  argnums: Argnums,
) {
  const list = argnumList(fn, argnums, args.length);
  const select = list.map((i) => args[i]);
  const partial = (...chosen: unknown[]): R => {
    const full = [...args] as Args;
    list.forEach((i, k) => (full[i] = chosen[k]));
    return f(...full);
  };
  return { select, partial, single: typeof argnums === "number" };
}

/**
 * One-hot directions for every element of every float tensor leaf of `trees` (a list, one tree
 * per argument; with `numbers`, of every number leaf too), as one batch: each such leaf becomes a tensor of [count, ...its shape]
 * whose row m is 1 at element m of the count over all leaves and 0 elsewhere; other leaves stay
 * as they are. `offsets` maps "tree/leaf" to that leaf's first row and its number of rows.
 */
function oneHotBatch(trees: readonly unknown[], numbers: boolean) {
  const differentiable = (x: unknown) =>
    (x instanceof Tensor && isFloat(x.dtype)) || (numbers && typeof x === "number");
  const offsets = new Map<string, { first: number; size: number }>();
  let count = 0;
  trees.forEach((tree, a) => {
    let leafIndex = -1;
    treeMap((x: unknown) => {
      leafIndex++;
      if (!differentiable(x)) return null;
      const size = x instanceof Tensor ? x.size : 1;
      offsets.set(`${a}/${leafIndex}`, { first: count, size });
      count += size;
      return null;
    }, tree);
  });
  const batch = trees.map((tree, a) => {
    let leafIndex = -1;
    return treeMap((x: unknown) => {
      leafIndex++;
      const at = offsets.get(`${a}/${leafIndex}`);
      if (at === undefined) return x instanceof Tensor ? zeros([count, ...x.shape], x.dtype) : x;
      const shape = x instanceof Tensor ? x.shape : [];
      const rows = zeros([count, ...shape], x instanceof Tensor ? x.dtype : "float64");
      for (let k = 0; k < at.size; k++) rows.buffer[(at.first + k) * at.size + k] = 1;
      return rows;
    }, tree);
  });
  return { batch, count, offsets };
}

/** vmap's inAxes for a batch from oneHotBatch: 0 at its tensors, null at other leaves. */
function axesOf(batch: readonly unknown[]): AxisSpec[] {
  return batch.map((tree) =>
    isContainer(tree) || tree instanceof Tensor
      ? (treeMap((x: unknown) => (x instanceof Tensor ? 0 : null), tree) as AxisSpec)
      : null,
  );
}

/** Rows first … first + size of a batched leaf ([count, …]): one block's pieces. */
function block(leaf: unknown, first: number, size: number): Tensor | null {
  if (!(leaf instanceof Tensor)) return null;
  return slice(leaf, [first], [first + size]);
}

/** Maps each selected argument's leaves to `f(leaf, "argument/leaf")`: one tree or a list. */
function mapInputs(
  select: readonly unknown[],
  single: boolean,
  f: (x: unknown, path: string) => unknown,
): unknown {
  const trees = select.map((arg, a) => {
    let leafIndex = -1;
    return treeMap((x: unknown) => {
      leafIndex++;
      return f(x, `${a}/${leafIndex}`);
    }, arg);
  });
  return single ? trees[0] : trees;
}

/** The leaf at "argument/leaf" of a list of per-argument trees. */
function leafAt(trees: readonly unknown[], path: string): unknown {
  const [a, leaf] = path.split("/").map(Number) as [number, number];
  return leafAtIndex(trees[a], leaf);
}

function leafAtIndex(tree: unknown, index: number): unknown {
  let i = -1;
  let found: unknown = null;
  treeMap((leaf: unknown) => {
    if (++i === index) found = leaf;
    return null;
  }, tree);
  return found;
}

/** The blocks of an output without derivatives: zeros for int32 and numbers, else null. */
function constantBlock(y: unknown, select: readonly unknown[], single: boolean): unknown {
  if (!(y instanceof Tensor) && typeof y !== "number") return null;
  const yShape = y instanceof Tensor ? y.shape : [];
  return mapInputs(select, single, (x) => {
    if (!(x instanceof Tensor) && typeof x !== "number") return null;
    return zeros([...yShape, ...(x instanceof Tensor ? x.shape : [])], "float64");
  });
}

/**
 * Block ∂y/∂x of shape y.shape ++ x.shape from its pieces stacked along axis 0: `rows` are
 * gradients of one output element each (x's shape), `columns` tangents along one input element
 * each (y's shape). Written with ops, so that Jacobians can be differentiated again.
 */
function assemble(
  stacked: Tensor | null,
  x: unknown,
  y: Tensor,
  kind: "rows" | "columns",
): unknown {
  if (!(x instanceof Tensor) && typeof x !== "number") return null;
  const xShape = x instanceof Tensor ? x.shape : [];
  const shape = [...y.shape, ...xShape];
  const dtype = x instanceof Tensor && isFloat(x.dtype) ? y.dtype : "float64";
  if (stacked === null || (x instanceof Tensor && !isFloat(x.dtype))) return zeros(shape, dtype);
  const pieces = stacked.dtype === dtype ? stacked : cast(stacked, dtype);
  if (kind === "rows") return reshape(pieces, shape);
  // [x.size, ...y.shape] → [y.size, x.size]: the input axes go last.
  const flat = reshape(pieces, [shapeSize(xShape), y.size]);
  return reshape(transpose(flat, [1, 0]), shape);
}
