import { TapegradError } from "../errors.js";

/** Which comparison failed: vjp against finite differences, jvp against them, or jvp against vjp. */
export type MismatchKind = "rev" | "fwd" | "fwd-rev";

/** An op on the tape whose own vjp disagrees with finite differences (see findFaultyOps). */
export interface FaultyOp {
  /** The op's registered name. */
  readonly op: string;
  /** The input whose gradient is wrong, by its declared name (`x`, `w`, `xs[1]`). */
  readonly input: string;
  /** Its position on the tape: 1 for the first op the checked function applied. */
  readonly position: number;
  /**
   * The rule that disagrees: the op's vjp, the jvp derived from it (a vjp right in value but no
   * traced linear map of dy), or, in a second-order check, the derivative of its vjp rule.
   */
  readonly rule: "vjp" | "jvp" | "vjp's derivative";
  /** The rule's derivative along the input's movement, projected on a random cotangent. */
  readonly analytic: number;
  /** The same by central finite differences of the op alone. */
  readonly numeric: number;
  /** Where user code applied the op: stack frames outside tapegrad, one per line. */
  readonly site: string;
}

/** What a GradientMismatchError reports, as fields as well as in its message. */
export interface GradientMismatch {
  /** Which comparison failed. */
  readonly kind: MismatchKind;
  /**
   * The argument leaf whose derivative is wrong (`params.l1.w`, `x`, `args[0]`); absent for
   * forward mode, which moves every element at once.
   */
  readonly input?: string;
  /** The element's multi-index in `input`. */
  readonly index?: readonly number[];
  /** The output element differentiated (`out`, `out[1,0]`, `out.loss`); absent for "fwd-rev". */
  readonly output?: string;
  /** The derivative by the rules under test (for "fwd-rev", ⟨J·v, c⟩ by jvp). */
  readonly analytic: number;
  /** The derivative by central finite differences (for "fwd-rev", ⟨v, Jᵀ·c⟩ by vjp). */
  readonly numeric: number;
  /** |analytic − numeric|. */
  readonly absError: number;
  /** |analytic − numeric| / max(|analytic|, |numeric|): 2 for a sign flip, near 0 for noise. */
  readonly relError: number;
  /** The seed of the probes (cotangents, directions, sampled elements): replays the check. */
  readonly seed: number;
  /** The ops on the tape that disagree on their own, first applied first (see findFaultyOps). */
  readonly faultyOps: readonly FaultyOp[];
}

/** Thrown by checkGrads (code GRADIENT_MISMATCH) when a derivative disagrees with finite differences. */
export class GradientMismatchError extends TapegradError implements GradientMismatch {
  readonly kind: MismatchKind;
  readonly input?: string;
  readonly index?: readonly number[];
  readonly output?: string;
  readonly analytic: number;
  readonly numeric: number;
  readonly absError: number;
  readonly relError: number;
  readonly seed: number;
  readonly faultyOps: readonly FaultyOp[];

  constructor(details: GradientMismatch, message: string) {
    super("GRADIENT_MISMATCH", message);
    this.name = "GradientMismatchError";
    this.kind = details.kind;
    this.input = details.input;
    this.index = details.index;
    this.output = details.output;
    this.analytic = details.analytic;
    this.numeric = details.numeric;
    this.absError = details.absError;
    this.relError = details.relError;
    this.seed = details.seed;
    this.faultyOps = details.faultyOps;
  }
}

/** max(|a|, |n|)-relative difference: 0 when equal, 2 when of opposite sign and equal size. */
export function relativeError(analytic: number, numeric: number): number {
  const scale = Math.max(Math.abs(analytic), Math.abs(numeric));
  return scale === 0 ? 0 : Math.abs(analytic - numeric) / scale;
}

/** A number as the messages print it: six significant digits, no trailing zeros. */
export function num(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1e-4 && abs < 1e6) return String(Number(v.toPrecision(6)));
  return v.toExponential(5).replace(/\.?0+e/, "e");
}

/** `abs error 1e-1, rel error 6.66667e-2`. */
export function errors(analytic: number, numeric: number): string {
  const abs = Math.abs(analytic - numeric);
  return `abs error ${num(abs)}, rel error ${num(relativeError(analytic, numeric))}`;
}

/** The lines of a faulty-op report, for the end of a mismatch message. */
export function faultyOpLines(found: readonly FaultyOp[] | string): string {
  if (typeof found === "string") return `\n  faulty op: not found (${found})`;
  if (found.length === 0) {
    return (
      "\n  faulty op: none: every op on the tape agrees with finite differences along this" +
      " perturbation, so part of the result is computed off the tape (by Tensor.data, item()," +
      " toArray() or stopGradient, in f or in an op's vjp), or f is not smooth at this point" +
      " (a kink or a tie within eps)"
    );
  }
  const [first, ...rest] = found;
  const lines = [
    `\n  faulty op: ${first!.op}, input ${first!.input} (op ${first!.position} on the tape): ` +
      `along this perturbation its ${first!.rule} gives ${num(first!.analytic)}, finite ` +
      `differences ${num(first!.numeric)} (${errors(first!.analytic, first!.numeric)})`,
  ];
  if (first!.site !== "") {
    lines.push("    applied at:", ...first!.site.split("\n").map((frame) => `      ${frame}`));
  }
  if (rest.length > 0) {
    const others = rest
      .map((f) => `${f.op} (input ${f.input}, ${f.rule}, op ${f.position})`)
      .join(", ");
    lines.push(`    also disagreeing: ${others}`);
  }
  return lines.join("\n");
}
