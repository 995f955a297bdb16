import { argumentError, show } from "../errors.js";
import { prng } from "../random.js";
import { tensor } from "../tensor.js";
import { treeMap } from "../tree.js";
import { vjp } from "../transforms.js";
import { checkForward } from "./directional.js";
import { findFaultyOps } from "./localize.js";
import { cotangentFor, toFloat64 } from "./probes.js";
import type { CheckProgress } from "./progress.js";
import { checkReverse } from "./reverse.js";
import type { Settings, Subject } from "./subject.js";

/** How a derivative is computed: "rev" by vjp (reverse mode), "fwd" by jvp (forward mode). */
export type GradMode = "rev" | "fwd";

/** Step, tolerances, seed, order, modes and scope of checkGrads; every field is optional. */
export interface CheckGradsOptions {
  /** Finite-difference step (default 1e-6, as torch.autograd.gradcheck). */
  readonly eps?: number;
  /**
   * Absolute tolerance. Default: 1e-5·min(1, S), S the largest |derivative| checked (so a loss
   * scaled down is checked as strictly), but never below the finite difference's own error:
   * 100·eps² for truncation, 1e-14·size/eps for rounding (docs/gradient-checking.md).
   */
  readonly atol?: number;
  /** Relative tolerance, against the numeric value (default 1e-3). */
  readonly rtol?: number;
  /** Seed of the random ±1 cotangents and directions and of the sampled elements (default 0). */
  readonly seed?: number;
  /** Named in failure messages (an op's name, say). */
  readonly name?: string;
  /**
   * 1 (default) checks first derivatives; 2 also checks the derivatives of f's vjp, the function
   * (args, ct) ↦ ∂⟨f(args), ct⟩/∂args, against finite differences of it, in the same modes.
   */
  readonly order?: 1 | 2;
  /**
   * "rev" (the default, alone) compares the vjp with finite differences element by element;
   * "fwd" compares the jvp along one random direction with the finite-difference directional
   * derivative, and ⟨J·v, c⟩ with the reverse mode's ⟨v, Jᵀ·c⟩: a few passes of f, whatever
   * the number of elements (the fast check of a whole model).
   */
  readonly modes?: readonly GradMode[];
  /** Which positional arguments to check (default: all); the others stay fixed. */
  readonly argnums?: number | readonly number[];
  /** Names of the positional arguments, for messages (default `args[0]`, `args[1]`, …). */
  readonly argnames?: readonly string[];
  /** Reverse mode: compare this many elements, drawn at random from the seed, instead of all. */
  readonly samples?: number;
  /**
   * Called after each element reverse mode compares. Without it, a check run from a terminal
   * prints a progress line every few seconds.
   */
  readonly onProgress?: (progress: CheckProgress) => void;
  /**
   * On a mismatch, check each op on f's tape on its own and name those whose vjp is wrong
   * (default true; it costs three recordings of f and one check per op).
   */
  readonly findFaultyOp?: boolean;
}

/** What a passing checkGrads compared. */
export interface CheckGradsReport {
  /** How many derivatives were compared. */
  readonly checked: number;
  /** The largest |analytic − numeric| seen. */
  readonly maxAbsError: number;
  /**
   * The largest |analytic − numeric| / max(|analytic|, |numeric|) among derivatives larger than
   * atol (smaller ones are rounding noise, whose relative error means nothing).
   */
  readonly maxRelError: number;
}

type Call = (...args: unknown[]) => unknown;

/**
 * Checks derivatives of `f` at `args` against central finite differences in float64. Float leaves
 * of `args` (trees allowed) are promoted to float64 first. Reverse mode compares ∂⟨f(args), c⟩/∂x
 * one element x at a time, |analytic − numeric| ≤ atol + rtol·|numeric|, where c is 1 for an
 * output of one element (a loss is compared as it is) and random ±1 entries otherwise, so the
 * tolerances mean the same for every seed. `modes` adds forward mode, `order: 2` the second
 * derivatives, `argnums` and `samples` narrow the check. On failure it throws a
 * GradientMismatchError naming the element (`params.w[1,2]`), the true partial derivatives,
 * their absolute and relative error, the seed, and the op on f's tape whose rule is wrong.
 */
export function checkGrads(
  f: (...args: never[]) => unknown,
  args: readonly unknown[],
  options: CheckGradsOptions = {},
): CheckGradsReport {
  const { eps = 1e-6, atol, rtol = 1e-3, seed = 0, name = "checkGrads" } = options;
  const { order = 1, modes = ["rev"], samples, onProgress, findFaultyOp = true } = options;
  if (order !== 1 && order !== 2) {
    throw argumentError(name, `order must be 1 or 2, got ${show(order)}`);
  }
  if (modes.length === 0 || modes.some((m) => m !== "rev" && m !== "fwd")) {
    throw argumentError(name, `modes must list "rev" and/or "fwd", got ${show(modes)}`);
  }
  if (samples !== undefined && !(Number.isInteger(samples) && samples > 0)) {
    throw argumentError(name, `samples must be a positive integer, got ${show(samples)}`);
  }
  const argnums = checkedArgnums(name, options.argnums, args.length);
  const call = f as Call;
  const all = args.map((a) => treeMap(toFloat64, a));
  const subject: Subject = {
    fn: (...checked) =>
      call(...all.map((a, i) => (argnums.includes(i) ? checked[argnums.indexOf(i)] : a))),
    primals: argnums.map((i) => all[i]),
    labels: argnums.map((i) => options.argnames?.[i] ?? `args[${i}]`),
  };
  const search = { eps, atol, rtol, seed };
  const locateIn = (fn: Call, primals: unknown[], searchOrder: 1 | 2) =>
    findFaultyOp
      ? (direction: readonly unknown[]) =>
          findFaultyOps(fn, primals, direction.slice(0, primals.length), {
            ...search,
            order: searchOrder,
          })
      : undefined;
  const settings: Settings = {
    ...search,
    name,
    samples,
    onProgress,
    locate: locateIn(subject.fn, subject.primals, 1),
  };
  let report = runModes(subject, settings, modes);
  if (order === 2) {
    // The vjp as a function of the point and the cotangent: its derivatives in the point are f's
    // second derivatives; in ct (it is linear in ct) they are J, which is what jvp transposes.
    const k = subject.primals.length;
    const ct = cotangentFor(subject.fn(...subject.primals), prng(seed).split());
    const vjpOf = (...inputs: unknown[]) => {
      const [, pullback] = vjp(subject.fn, ...inputs.slice(0, k));
      return treeMap(numberAsTensor, pullback(inputs[k]));
    };
    const second: Subject = {
      fn: vjpOf,
      primals: [...subject.primals, ct].map((p) => treeMap(toFloat64, p)),
      labels: [...subject.labels, "ct"],
    };
    report = combine(
      report,
      runModes(
        second,
        {
          ...settings,
          seed: seed + 1,
          name: `${name} (order 2: the vjp (args, ct) ↦ ∂⟨f(args), ct⟩/∂args)`,
          // The faulty op of a second derivative is one whose vjp rule has a wrong derivative:
          // the search runs on f's own tape and checks each op's rule as a function.
          locate: locateIn(subject.fn, subject.primals, 2),
        },
        modes,
      ),
    );
  }
  return report;
}

/** Runs each mode's check of `subject` once. */
function runModes(
  subject: Subject,
  settings: Settings,
  modes: readonly GradMode[],
): CheckGradsReport {
  let report: CheckGradsReport = { checked: 0, maxAbsError: 0, maxRelError: 0 };
  for (const mode of new Set(modes)) {
    const step = mode === "rev" ? checkReverse(subject, settings) : checkForward(subject, settings);
    report = combine(report, step);
  }
  return report;
}

/** The positional arguments to check, in increasing order. */
function checkedArgnums(name: string, argnums: unknown, count: number): number[] {
  if (argnums === undefined) return Array.from({ length: count }, (_, i) => i);
  const list = typeof argnums === "number" ? [argnums] : argnums;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((i) => !Number.isInteger(i) || i < 0 || i >= count)
  ) {
    throw argumentError(
      name,
      `argnums must be an argument index or a non-empty list of them (0…${count - 1}), got ${show(argnums)}`,
    );
  }
  return [...new Set(list as number[])].sort((a, b) => a - b);
}

function combine(a: CheckGradsReport, b: CheckGradsReport): CheckGradsReport {
  return {
    checked: a.checked + b.checked,
    maxAbsError: Math.max(a.maxAbsError, b.maxAbsError),
    maxRelError: Math.max(a.maxRelError, b.maxRelError),
  };
}

function numberAsTensor(leaf: unknown): unknown {
  return typeof leaf === "number" ? tensor(leaf, { dtype: "float64" }) : leaf;
}
