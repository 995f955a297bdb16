import { argumentError, show } from "./errors.js";
import { anyTraced, applyFunctionOp } from "./functionOp.js";

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
    }) as R;
  };
}
