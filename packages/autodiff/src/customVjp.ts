import { argumentError, show } from "./errors.js";
import { anyTraced, applyFunctionOp } from "./functionOp.js";
import { Tensor } from "./tensor.js";
import { treeFlatten, treeUnflatten } from "./tree.js";
import { vmap, type AxisSpec } from "./vmap.js";
import { sum } from "./ops/reduce.js";
import { transpose } from "./ops/transpose.js";

/** The rules of `customVjp`: a forward that keeps residuals, and the backward that uses them. */
export interface CustomVjpRules<Args extends unknown[], R, Res> {
  /** f's result and the residuals bwd needs (anything: tensors, numbers, trees). */
  fwd(...args: Args): readonly [R, Res];
  /**
   * One cotangent per argument of f, each with its argument's structure (null for an argument
   * that gets none), given fwd's residuals and the cotangent of f's result. Written with ops, it
   * is itself differentiable: second order and forward mode follow.
   */
  bwd(residuals: Res, cotangent: R): readonly unknown[];
  /** A name for error messages and reports (default "customVjp"). */
  readonly name?: string;
}

/**
 * f with its own gradient rule: called normally it is f; differentiated, its vjp is `bwd`
 * (straight-through estimators, gradient clipping inside backprop, implicit gradients).
 * Arguments and results are trees of tensors; numbers and other leaves are constants. Nothing is
 * registered: two functions may share a name. Verify a rule with `checkGrads` like any function.
 *
 * Second order and forward mode differentiate `bwd`, with the residuals recomputed by `fwd`
 * under the outer transforms, so that they depend on the arguments as they should.
 */
export function customVjp<Args extends unknown[], R, Res>(
  f: (...args: Args) => R,
  rules: CustomVjpRules<Args, R, Res>,
): (...args: Args) => R {
  const name = rules.name ?? "customVjp";
  if (
    typeof f !== "function" ||
    typeof rules?.fwd !== "function" ||
    typeof rules.bwd !== "function"
  ) {
    throw argumentError("customVjp", `expected f, fwd and bwd functions, got ${show(rules)}`);
  }
  return (...args: Args): R => {
    if (!anyTraced(args)) return f(...args);
    return applyFunctionOp(name, args, {
      forward: (xs) => {
        const [out, saved] = rules.fwd(...(xs as Args));
        return { out, saved };
      },
      vjp: ({ args: xs, cotangent, saved }) => {
        // Under an outer transform the residuals must depend on the arguments: recompute them.
        const residuals = anyTraced(xs) ? rules.fwd(...(xs as Args))[1] : (saved as Res);
        const grads = rules.bwd(residuals, cotangent as R);
        if (!Array.isArray(grads) || grads.length !== xs.length) {
          throw argumentError(
            name,
            `bwd must return one cotangent per argument (${xs.length}), got ${show(grads)}`,
          );
        }
        return grads;
      },
      batched: (inAxes) => batchedCustomVjp(rules, name, inAxes as AxisSpec[]),
    }) as R;
  };
}

/**
 * vmap of a customVjp function: the same rule on the batch. Its residuals are the batched
 * arguments, and its bwd is the user's bwd mapped over the slices, each slice's residuals
 * recomputed by fwd inside the mapped function (so they may be any values, not only tensors).
 */
function batchedCustomVjp<Args extends unknown[], R, Res>(
  rules: CustomVjpRules<Args, R, Res>,
  name: string,
  inAxes: AxisSpec[],
): (...args: unknown[]) => unknown {
  const mappedF = vmap((...args: unknown[]) => rules.fwd(...(args as Args))[0], { inAxes });
  const mappedBwd = vmap(
    (cotangent: unknown, ...args: unknown[]) =>
      rules.bwd(rules.fwd(...(args as Args))[1], cotangent as R),
    { inAxes: [0, ...inAxes] },
  );
  return customVjp(mappedF, {
    name,
    fwd: (...args) => [mappedF(...args), args] as const,
    bwd: (args, cotangent) => {
      const grads = mappedBwd(cotangent, ...args) as readonly unknown[];
      return args.map((arg, i) => onArgumentAxes(grads[i], arg, inAxes[i] ?? null));
    },
  });
}

/**
 * A batch-first cotangent tree in its argument's layout: each leaf's batch moved to the axis
 * the argument's leaf is mapped on (`axes` has the argument's structure), or summed where that
 * leaf is the same for every slice.
 */
function onArgumentAxes(cotangent: unknown, arg: unknown, axes: AxisSpec): unknown {
  if (cotangent == null) return null;
  const found = new Map(treeFlatten(cotangent));
  const axisOf = new Map(treeFlatten(axes));
  return treeUnflatten(
    treeFlatten(arg).map(([path, leaf]) => {
      const g = found.get(path);
      if (!(leaf instanceof Tensor) || !(g instanceof Tensor)) return [path, null];
      const axis = axisOf.get(path);
      if (typeof axis !== "number") return [path, sum(g, { axis: 0 })];
      const perm = [...Array(g.ndim).keys()].slice(1);
      perm.splice(axis, 0, 0);
      return [path, transpose(g, perm)];
    }),
  );
}
