import { TapegradError, argumentError, show } from "./errors.js";
import { anyTraced, applyFunctionOp } from "./functionOp.js";
import { withForwardHook, type AnyOpDefinition, type ForwardHook } from "./registry.js";
import type { Applied } from "./tape.js";
import { vjp } from "./transforms.js";
import { vmap, type AxisSpec } from "./vmap.js";

/** Options of `checkpoint`. */
export interface CheckpointOptions {
  /**
   * Which ops' results to keep from forward rather than recompute in backward, by op name: for
   * example `(op) => op === "matmul"` keeps the products and recomputes the cheap elementwise
   * ops around them. Default: keep nothing, recompute everything.
   */
  readonly policy?: (op: string) => boolean;
}

/** One result a policy kept: which op computed it, for the check that the rerun matches. */
interface Kept {
  readonly op: string;
  readonly applied: Applied;
}

/**
 * f, rematerialised: the tape keeps only f's arguments and result (and what `policy` keeps), not
 * the values inside it, and backward runs f again to differentiate it. Trades compute (one more
 * forward of f) for memory (f's intermediates are not held from forward to backward). Gradients
 * are those of f exactly: the same ops run on the same values. Nests, and works under vmap and
 * every transform.
 *
 * f must compute the same values when run again: random numbers drawn inside it from an `Rng`
 * that advances (dropout) would differ in backward's run. Draw them outside and pass them in.
 */
export function checkpoint<Args extends unknown[], R>(
  f: (...args: Args) => R,
  options: CheckpointOptions = {},
): (...args: Args) => R {
  if (typeof f !== "function") {
    throw argumentError("checkpoint", `expected a function, got ${show(f)}`);
  }
  const policy = options?.policy ?? null;
  if (policy !== null && typeof policy !== "function") {
    throw argumentError(
      "checkpoint",
      `options.policy must be a function of an op name, got ${show(policy)}`,
    );
  }
  return (...args: Args): R => {
    if (!anyTraced(args)) return f(...args);
    return applyFunctionOp("checkpoint", args, {
      // Below every trace: f runs without recording anything, and the policy's picks are kept.
      forward: (xs) => {
        if (policy === null) return { out: f(...(xs as Args)), saved: undefined };
        const kept: Kept[] = [];
        const keep =
          (previous: ForwardHook | null): ForwardHook =>
          (op, compute, call) => {
            const applied = previous === null ? compute() : previous(op, compute, call);
            if (policy(op.name)) kept.push({ op: op.name, applied });
            return applied;
          };
        return { out: withForwardHook(keep, () => f(...(xs as Args))), saved: kept };
      },
      vjp: ({ args: xs, cotangent, saved }) => {
        const kept = saved as readonly Kept[] | undefined;
        // Under an outer transform the rerun computes more ops (tangents, batching rules) than
        // forward did: it recomputes everything rather than match kept results to them.
        if (kept === undefined || kept.length === 0 || anyTraced(xs)) {
          return vjp(f, ...(xs as Args))[1](cotangent as R);
        }
        const [, pullback] = replaying(kept, policy!, () => vjp(f, ...(xs as Args)));
        return pullback(cotangent as R);
      },
      // vmap(checkpoint(f)) is checkpoint(vmap(f)): one batched rerun, not one per slice.
      batched: (inAxes) =>
        checkpoint(vmap(f as (...a: unknown[]) => R, { inAxes: inAxes as AxisSpec[] }), options),
    }) as R;
  };
}

/** Runs f (checkpoint's rerun) with the ops `policy` picks served from `kept`, in order. */
function replaying<R>(kept: readonly Kept[], policy: (op: string) => boolean, f: () => R): R {
  let next = 0;
  const serve =
    (previous: ForwardHook | null): ForwardHook =>
    (op, compute, call) => {
      if (!policy(op.name)) return previous === null ? compute() : previous(op, compute, call);
      const found = kept[next++];
      if (found?.op !== op.name)
        throw rerunMismatch(`${op.name} where forward ran ${found?.op ?? "no more kept ops"}`);
      return found.applied;
    };
  const result = withForwardHook(serve, f);
  if (next !== kept.length) {
    throw rerunMismatch(`${next} of the ${kept.length} ops the policy kept`);
  }
  return result;
}

function rerunMismatch(what: string): TapegradError {
  return new TapegradError(
    "INVALID_STATE",
    `checkpoint: recomputing f in backward ran ${what}: f must run the same ops each time it is ` +
      `called (no branches on random numbers or on state that changes between calls)`,
  );
}
