import { showIndex, showShape } from "../errors.js";
import type { Tensor } from "../tensor.js";
import type { CheckProgress } from "./progress.js";
import type { Tolerances } from "./tolerance.js";
import {
  GradientMismatchError,
  faultyOpLines,
  relativeError,
  type FaultyOp,
  type GradientMismatch,
} from "./mismatch.js";
import { floatLeaves, leafLabel } from "./probes.js";

/** The function a check differentiates, with its checked arguments only. */
export interface Subject {
  /** f with the unchecked arguments fixed: takes the checked ones, in order. */
  readonly fn: (...args: unknown[]) => unknown;
  /** float64 copies of the checked arguments; perturbed in place and restored. */
  readonly primals: unknown[];
  /** One label per checked argument for messages: its name, or `args[i]`. */
  readonly labels: readonly string[];
}

/** checkGrads' options, resolved. */
export interface Settings extends Tolerances {
  readonly eps: number;
  readonly seed: number;
  readonly name: string;
  readonly samples: number | undefined;
  readonly onProgress: ((progress: CheckProgress) => void) | undefined;
  /** Searches the tape for the faulty op along a failed comparison's direction, if asked to. */
  readonly locate: ((direction: readonly unknown[]) => FaultyOp[] | string) | undefined;
}

/** One float tensor leaf of the checked arguments, as the checker perturbs it. */
export interface CheckedLeaf {
  /** `params.l1.w`, `x`, `args[0]`. */
  readonly label: string;
  readonly tensor: Tensor;
}

/** The float tensor leaves of the checked arguments, in order. */
export function checkedLeaves(subject: Subject): CheckedLeaf[] {
  return subject.primals.flatMap((primal, a) =>
    floatLeaves(primal).map(([path, tensor]) => ({
      label: leafLabel(subject.labels[a]!, path),
      tensor,
    })),
  );
}

/** The float tensor leaves of a gradient per checked argument, in the order of checkedLeaves. */
export function gradientLeaves(grads: readonly unknown[]): Tensor[] {
  return grads.flatMap((g) => floatLeaves(g).map(([, t]) => t));
}

/** `x[1,2]`: element `flat` of a leaf, by multi-index (`x` alone for a scalar). */
export function elementLabel(label: string, shape: readonly number[], flat: number): string {
  return `${label}${showIndex(shape, flat)}`;
}

/** ` (x has shape [2,3])`, for a headline; "" for a scalar. */
export function shapeNote(label: string, shape: readonly number[]): string {
  return shape.length === 0 ? "" : ` (${label} has shape ${showShape(shape)})`;
}

/**
 * The error for a failed comparison: the headline and lines given, the replay seed, and (unless
 * turned off) the ops on the tape that disagree along `direction`, the movement that failed.
 */
export function mismatchError(
  settings: Settings,
  details: Omit<GradientMismatch, "faultyOps" | "seed" | "absError" | "relError">,
  lines: readonly string[],
  direction: readonly unknown[],
): GradientMismatchError {
  const found = settings.locate?.(direction);
  const { analytic, numeric } = details;
  const absError = Math.abs(analytic - numeric);
  const relError = relativeError(analytic, numeric);
  const seed = settings.seed;
  const message =
    `${settings.name}: ${lines.join("\n  ")}\n  probes from seed ${seed} (pass { seed: ${seed} } ` +
    `to replay them)${found === undefined ? "" : faultyOpLines(found)}`;
  return new GradientMismatchError(
    {
      ...details,
      seed,
      absError,
      relError,
      faultyOps: Array.isArray(found) ? found : [],
    },
    message,
  );
}
