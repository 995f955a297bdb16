import { TapegradError } from "@tapegrad/autodiff";
import type { Prepared } from "./timing.js";
import type { Workload } from "./workloads.js";

/**
 * What each library ("peer") implements for the bench: prepare a workload at a batch size, run
 * it (timed), and give its results back in tapegrad's layout for the agreement check.
 */

/**
 * A peer's results, each flattened in tapegrad's layout (NCHW data, OIHW weights): conv `y`, `dx`,
 * `dw`, `db`; pool `y`, `dx`; matmul `c`; LeNet `loss` and `update` (new − old params of every
 * layer, concatenated in LENET_LAYERS order, weight then bias).
 */
export type Outputs = Record<string, Float32Array>;

export interface PeerCall extends Prepared {
  /** One more call, untimed, returning its results. */
  readonly outputs: () => Outputs;
}

export interface Peer {
  /** Short column name: `tapegrad wasm ×2`, `tfjs cpu`, … */
  readonly name: string;
  /** What runs underneath, for the header: versions, backend, threads. */
  readonly detail: string;
  /** Called before each of this peer's cells (switches backends, thread counts). */
  activate(): Promise<void>;
  /** The workload at batch `n`; throws `Unsupported` where the peer cannot express it. */
  prepare(w: Workload, n: number): PeerCall;
  /** Anything to report after the run (e.g. tensors leaked). */
  notes?(): string[];
}

/** A workload a peer cannot run; the message is shown in the table instead of a number. */
export class Unsupported extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "Unsupported";
  }
}

/**
 * The reason peers show in the per-example and Hessian rows that exist as tapegrad baselines
 * (the batched gradient, the loop of grad, the loop of hvp): peers run the transforms only.
 */
export const BASELINE_ONLY = "tapegrad baseline only";

/**
 * The reason shown for a cell that failed: tfjs's "Kernel 'X' not registered for backend 'Y'"
 * becomes "no X kernel"; an Unsupported error its own message; anything else "failed: …".
 */
export function failureReason(error: unknown): string {
  if (error instanceof Unsupported) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const kernel = /Kernel '(\w+)' not registered/.exec(message);
  if (kernel) return `no ${kernel[1]} kernel`;
  const firstLine = message.split("\n")[0]!;
  return `failed: ${firstLine.length > 80 ? `${firstLine.slice(0, 77)}…` : firstLine}`;
}

/** A copy of `data` with its axes permuted by `perm`, for peers whose layout differs. */
export function permute(
  data: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank) {
    throw new TapegradError("SHAPE_MISMATCH", `bench: permutation of rank ${perm.length}`);
  }
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const outShape = perm.map((p) => shape[p]!);
  const outStrides = perm.map((p) => strides[p]!);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let i = 0; i < rank; i++) source += index[i]! * outStrides[i]!;
    out[o] = data[source]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i]! < outShape[i]!) break;
      index[i] = 0;
    }
  }
  return out;
}

export const NCHW_TO_NHWC = [0, 2, 3, 1];
export const NHWC_TO_NCHW = [0, 3, 1, 2];
/** tapegrad weights are [Cout, Cin, kh, kw] (OIHW), tfjs filters [kh, kw, Cin, Cout] (HWIO). */
export const OIHW_TO_HWIO = [2, 3, 1, 0];
export const HWIO_TO_OIHW = [3, 2, 0, 1];

/** Concatenates Float32Arrays (the LeNet update vector). */
export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
