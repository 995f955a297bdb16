import { argumentError, show } from "./errors.js";
import { anyTraced, applyFunctionOp } from "./functionOp.js";
import { vjp } from "./transforms.js";

/**
 * f, rematerialised: the tape keeps only f's arguments, not the values inside it, and backward
 * runs f again to differentiate it. Trades compute (one more forward of f) for memory (f's
 * intermediates are not held from forward to backward). Gradients are those of f exactly: the
 * same ops run on the same values. Nests, and works under vmap and every transform.
 *
 * f must compute the same values when run again: random numbers drawn inside it from an `Rng`
 * that advances (dropout) would differ in backward's run. Draw them outside and pass them in.
 */
export function checkpoint<Args extends unknown[], R>(
  f: (...args: Args) => R,
): (...args: Args) => R {
  if (typeof f !== "function") {
    throw argumentError("checkpoint", `expected a function, got ${show(f)}`);
  }
  return (...args: Args): R => {
    if (!anyTraced(args)) return f(...args);
    return applyFunctionOp("checkpoint", args, {
      // Below every trace: f runs without recording anything.
      forward: (xs) => ({ out: f(...(xs as Args)), saved: undefined }),
      vjp: ({ args: xs, cotangent }) => vjp(f, ...(xs as Args))[1](cotangent as R),
    }) as R;
  };
}
