import { argumentError, show } from "./errors.js";
import { observeTapes, type TapeNode, type Trace } from "./tape.js";
import { Tensor } from "./tensor.js";
import { treeLeaves } from "./tree.js";

/** What `profileTape` measured while f ran. */
export interface TapeProfile<R> {
  /** f's result. */
  readonly value: R;
  /**
   * The most bytes the tapes held at once: the distinct buffers of the outputs and residuals of
   * every op recorded on a tape whose backward had not finished yet. The inputs of a transform
   * are not counted (the caller holds them anyway), nor are cotangents.
   */
  readonly peakBytes: number;
  /** How many op applications were recorded on tapes, over the whole call. */
  readonly recordedOps: number;
}

/**
 * Runs f and measures the memory that reverse mode keeps from forward to backward: what
 * `checkpoint` reduces. A tape holds its values from the op that records them until its backward
 * pass is done (for `grad`, the end of the call; for a `vjp` pullback, its first call).
 */
export function profileTape<R>(f: () => R): TapeProfile<R> {
  if (typeof f !== "function") {
    throw argumentError("profileTape", `expected a function, got ${show(f)}`);
  }
  const held = new Map<Trace, Set<ArrayBufferView>>();
  const references = new Map<ArrayBufferView, number>();
  let bytes = 0;
  let peakBytes = 0;
  let recordedOps = 0;
  const previous = observeTapes({
    recorded(trace, node) {
      previous?.recorded(trace, node);
      recordedOps++;
      let buffers = held.get(trace);
      if (buffers === undefined) held.set(trace, (buffers = new Set()));
      for (const buffer of heldBuffers(node)) {
        if (buffers.has(buffer)) continue;
        buffers.add(buffer);
        const count = references.get(buffer) ?? 0;
        references.set(buffer, count + 1);
        if (count === 0) bytes += buffer.byteLength;
      }
      peakBytes = Math.max(peakBytes, bytes);
    },
    finished(trace) {
      previous?.finished(trace);
      for (const buffer of held.get(trace) ?? []) {
        const count = references.get(buffer)!;
        if (count > 1) {
          references.set(buffer, count - 1);
          continue;
        }
        references.delete(buffer);
        bytes -= buffer.byteLength;
      }
      held.delete(trace);
    },
  });
  try {
    return { value: f(), peakBytes, recordedOps };
  } finally {
    observeTapes(previous);
  }
}

/** The buffers a recorded op keeps: its outputs' and its residuals' (one level down). */
function heldBuffers(node: TapeNode): ArrayBufferView[] {
  const residuals = treeLeaves(node.saved).filter((leaf): leaf is Tensor => leaf instanceof Tensor);
  return [...node.innerOutputs, ...residuals].map((x) => x.buffer);
}
