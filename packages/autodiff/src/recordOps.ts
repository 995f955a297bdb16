import { argumentError, show } from "./errors.js";
import { withForwardHook, type ForwardHook } from "./registry.js";
import type { Tensor } from "./tensor.js";

/** One op application that `recordOps` saw: the op, what it was applied to and what it gave. */
export interface RecordedOp {
  /** The op's registered name ("conv2d", "add", …), or a function op's ("checkpoint", …). */
  readonly op: string;
  /** The attrs it was applied with, as its forward got them. */
  readonly attrs: unknown;
  /** Its input tensors, numbers already made tensors. */
  readonly inputs: readonly Tensor[];
  /** Its outputs, one per declared output. */
  readonly outputs: readonly Tensor[];
  /**
   * The ops its forward applied in turn, in order (empty for an op computed by kernels alone):
   * a function op (customVjp, checkpoint) or an op whose forward is written with other ops.
   */
  readonly inner: readonly RecordedOp[];
}

/** What `recordOps` returns: f's result and the ops that computed it. */
export interface Recording<R> {
  /** What f returned. */
  readonly result: R;
  /** The ops f computed, in the order they finished; each lists the ops inside it. */
  readonly ops: readonly RecordedOp[];
}

/** Options of `recordOps`. */
export interface RecordOpsOptions {
  /** Called as each op finishes (an op's inner ops before it), with the entry the list gets. */
  readonly onOp?: (op: RecordedOp) => void;
}

/**
 * Runs f and lists the ops it computed, in the order they ran, each with its attrs and the very
 * tensors it read and wrote (compare them by identity to follow values from op to op). Ops run
 * under transforms inside f appear as they are computed below every trace. This is what an
 * exporter reads: a concrete trace of one call, like `torch.jit.trace`.
 */
export function recordOps<R>(f: () => R, options: RecordOpsOptions = {}): Recording<R> {
  if (typeof f !== "function") {
    throw argumentError("recordOps", `expected a function, got ${show(f)}`);
  }
  const onOp = options?.onOp;
  if (onOp !== undefined && typeof onOp !== "function") {
    throw argumentError("recordOps", `options.onOp must be a function, got ${show(onOp)}`);
  }
  const ops: RecordedOp[] = [];
  let into = ops;
  const record =
    (previous: ForwardHook | null): ForwardHook =>
    (op, compute, call) => {
      const inner: RecordedOp[] = [];
      const outer = into;
      into = inner;
      let applied;
      try {
        applied = previous === null ? compute() : previous(op, compute, call);
      } finally {
        into = outer;
      }
      const recorded = {
        op: op.name,
        attrs: call.attrs,
        inputs: [...call.inputs],
        outputs: applied.ys,
        inner,
      };
      outer.push(recorded);
      onOp?.(recorded);
      return applied;
    };
  const result = withForwardHook(record, f);
  return { result, ops };
}
