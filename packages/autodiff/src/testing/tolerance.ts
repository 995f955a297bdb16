import { num } from "./mismatch.js";

// A derivative passes when |analytic − numeric| ≤ atol + rtol·|numeric|. rtol is scale-free; a
// fixed atol is not: a loss multiplied by 0.01/1024 has derivatives near 1e-6, and a fixed atol
// of 1e-5 would pass any rule for them. So the default atol shrinks with the derivatives being
// checked, down to the error of the finite difference itself: its truncation, eps²·f‴/6, and
// its rounding, u·size/eps, where size is how large the terms that make up f are (rounding.ts).

/** The default atol for derivatives of magnitude 1 or more (torch.autograd.gradcheck's). */
export const DEFAULT_ATOL = 1e-5;

/**
 * Rounding error of a central difference, per size / eps: float64's unit roundoff (1.1e-16)
 * with room for ops that round by more than one unit (sums over many terms).
 */
const ROUNDING = 1e-14;

/** Truncation error of a central difference, per eps²: room for |f‴| up to 600. */
const TRUNCATION = 100;

/** The tolerances a check was given: atol undefined means the scaled default. */
export interface Tolerances {
  readonly atol: number | undefined;
  readonly rtol: number;
}

/** The absolute tolerance in force, and why, for messages. */
export interface Floor {
  readonly atol: number;
  readonly why: string;
}

/**
 * The atol for comparing derivatives whose largest magnitude is `scale`, by finite differences
 * of a function whose terms have size `size` (roundingSize; 0 where nothing was differenced):
 * the given atol as it is; by default 1e-5·min(1, scale), but never below the difference's own
 * error: 100·eps² for truncation, 1e-14·size/eps for rounding.
 */
export function floor(tolerances: Tolerances, scale: number, size: number, eps: number): Floor {
  if (tolerances.atol !== undefined) return { atol: tolerances.atol, why: "" };
  const scaled = DEFAULT_ATOL * Math.min(1, scale);
  const truncation = TRUNCATION * eps * eps;
  const rounding = (ROUNDING * size) / eps;
  if (scaled >= truncation && scaled >= rounding) {
    if (scale >= 1) return { atol: scaled, why: "" };
    return { atol: scaled, why: ` (${DEFAULT_ATOL} × the largest |derivative|, ${num(scale)})` };
  }
  if (truncation >= rounding) {
    return { atol: truncation, why: " (finite differences' truncation error, 100·eps²)" };
  }
  return { atol: rounding, why: " (finite differences' rounding error here)" };
}

/** Whether |analytic − numeric| is within atol + rtol·|numeric| (false for NaN). */
export function within(atol: number, rtol: number, analytic: number, numeric: number): boolean {
  return Math.abs(analytic - numeric) <= atol + rtol * Math.abs(numeric);
}

/** `|analytic − numeric| 0.1 > atol 1e-5 + rtol 1e-3·|numeric| = 1.5e-3`, with atol's reason. */
export function exceeded(found: Floor, rtol: number, analytic: number, numeric: number): string {
  const difference = num(Math.abs(analytic - numeric));
  const allowed = num(found.atol + rtol * Math.abs(numeric));
  return (
    `|analytic − numeric| ${difference} > atol ${num(found.atol)}${found.why} + ` +
    `rtol ${num(rtol)}·|numeric| = ${allowed}`
  );
}

/** The largest |v| over `buffers`. */
export function largest(buffers: readonly ArrayLike<number>[]): number {
  let m = 0;
  for (const b of buffers) {
    for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]!));
  }
  return m;
}
