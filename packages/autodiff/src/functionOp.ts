import { TapegradError, argumentError, show } from "./errors.js";
import { applyOp, type AnyOpDefinition } from "./registry.js";
import { Tensor } from "./tensor.js";
import { treeFlatten, treeMap } from "./tree.js";
import { rulesForEmptyBatches } from "./vmap.js";

// An op made for one call of a user function over trees, not registered (customVjp's and
// checkpoint's): the tensor leaves of the arguments are its inputs, those of the result its
// outputs. The tape, vmap and every nesting of transforms treat it as any other op.

/** What a function op's vjp gets, with the trees rebuilt around the tensors. */
export interface FunctionVjpContext {
  /** The arguments as the vjp sees them: one level down, traced by any outer transform. */
  readonly args: unknown[];
  /** The result's cotangent, with the result's structure. */
  readonly cotangent: unknown;
  /** What forward kept for the vjp. */
  readonly saved: unknown;
}

/** How a function op computes: forward on the arguments, vjp to cotangents per argument. */
export interface FunctionOpRules {
  /** The result and what the vjp needs. */
  forward(args: unknown[]): { readonly out: unknown; readonly saved: unknown };
  /** One cotangent per argument, each with its argument's structure (null for none). */
  vjp(ctx: FunctionVjpContext): readonly unknown[];
  /**
   * Under vmap: the same transform of the function mapped with `inAxes` (one entry per argument,
   * null for leaves that are not mapped), whose results have their batch axis first.
   */
  batched(inAxes: unknown[]): (...args: unknown[]) => unknown;
}

/**
 * @internal Applies `rules` to `args` as one op named `name`. Every tensor leaf of `args` is an
 * input; the result's tensor leaves are its outputs (its structure must be the same on every
 * call the op's levels make).
 */
export function applyFunctionOp(name: string, args: unknown[], rules: FunctionOpRules): unknown {
  const inputs = tensorLeaves(args);
  let structure: unknown;
  const definition: { -readonly [K in keyof AnyOpDefinition]: AnyOpDefinition[K] } = {
    name,
    inputs: inputs.map((_, i) => `input ${i}`),
    forward: (xs) => {
      const { out, saved } = rules.forward(withLeaves(args, xs) as unknown[]);
      const ys = tensorLeaves(out);
      if (ys.length === 0) {
        throw argumentError(
          name,
          `the function must return a tensor or a tree of tensors, got ${show(out)}`,
        );
      }
      structure ??= out;
      // The outputs are known once forward has run at the level below every trace.
      definition.outputs ??= ys.map((_, k) => `output ${k}`);
      if (ys.length !== definition.outputs.length) {
        throw new TapegradError(
          "INVALID_STATE",
          `${name}: the function returned ${ys.length} tensors where an earlier call of the ` +
            `same application returned ${definition.outputs.length}`,
        );
      }
      return { y: ys.length === 1 ? ys[0]! : ys, saved };
    },
    vjp: ({ dy, inputs: xs, saved }) => {
      const dys = Array.isArray(dy) ? dy : [dy as Tensor];
      const cotangent = withLeaves(structure, dys);
      const grads = rules.vjp({ args: withLeaves(args, xs) as unknown[], cotangent, saved });
      return gradientLeaves(args, grads);
    },
    batch: ({ inputs: xs, axes }) => {
      let i = 0;
      const inAxes = treeMap((leaf: unknown) => (leaf instanceof Tensor ? axes[i++] : null), args);
      const out = rules.batched(inAxes as unknown[])(...(withLeaves(args, xs) as unknown[]));
      const ys = tensorLeaves(out);
      structure ??= out;
      definition.outputs ??= ys.map((_, k) => `output ${k}`);
      return { y: ys.length === 1 ? ys[0]! : ys, axes: ys.map(() => 0) };
    },
  };
  rulesForEmptyBatches.add(definition);
  const ys = applyOp(definition, inputs, {}).ys;
  return withLeaves(structure, ys);
}

/** The tensor leaves of `tree`, in tree order. */
function tensorLeaves(tree: unknown): Tensor[] {
  return treeFlatten(tree)
    .map(([, leaf]) => leaf)
    .filter((leaf): leaf is Tensor => leaf instanceof Tensor);
}

/**
 * One gradient per tensor leaf of `args`, in order, from one cotangent tree per argument (null
 * for an argument, or a leaf, that gets none).
 */
function gradientLeaves(args: readonly unknown[], grads: readonly unknown[]): (Tensor | null)[] {
  return args.flatMap((arg, i) => {
    const found = new Map(grads[i] == null ? [] : treeFlatten(grads[i]));
    return treeFlatten(arg)
      .filter(([, leaf]) => leaf instanceof Tensor)
      .map(([path]) => {
        const g = found.get(path);
        return g instanceof Tensor ? g : null;
      });
  });
}

/** `tree` with its tensor leaves replaced, in order, by `leaves`. */
function withLeaves(tree: unknown, leaves: readonly (Tensor | null)[]): unknown {
  let i = 0;
  return treeMap((leaf: unknown) => (leaf instanceof Tensor ? leaves[i++] : leaf), tree);
}

/** @internal Whether any tensor leaf of `tree` is a view of a transform's trace. */
export function anyTraced(tree: unknown): boolean {
  return tensorLeaves(tree).some((x) => x.trace !== null && x.trace.active);
}
