import {
  add,
  argumentError,
  cast,
  cos,
  div,
  full,
  greaterEqual,
  less,
  mul,
  pow,
  sub,
  where,
  type Tensor,
} from "@tapegrad/autodiff";
import { checkNumber, type Schedule } from "./optimizer.js";

// A schedule's argument counts the updates already applied: 0 for the first, as in optax and as
// PyTorch's schedulers give when stepped once after every update.

/** lr at every step. */
export function constant(lr: number): Schedule {
  checkNumber("constant", "lr", lr, (v) => v >= 0, "a finite number ≥ 0");
  return traceable(
    (step) => {
      checkStep("constant", step);
      return lr;
    },
    () => full([], lr, "float64"),
  );
}

/** Options of stepDecay. */
export interface StepDecayOptions {
  /** The initial learning rate. */
  readonly lr: number;
  /** Updates between decays. */
  readonly stepSize: number;
  /** Factor applied at each decay (default 0.1). */
  readonly gamma?: number;
}

/** lr·γ^⌊step/stepSize⌋, as torch.optim.lr_scheduler.StepLR. */
export function stepDecay(options: StepDecayOptions): Schedule {
  const { lr, stepSize, gamma = 0.1 } = options;
  checkNumber("stepDecay", "lr", lr, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("stepDecay", "stepSize", stepSize, isPositiveInt, "a positive integer");
  checkNumber("stepDecay", "gamma", gamma, (v) => v >= 0, "a finite number ≥ 0");
  return traceable(
    (step) => {
      checkStep("stepDecay", step);
      return lr * gamma ** Math.floor(step / stepSize);
    },
    // Truncation is the floor here: the quotient is never negative.
    (step) => mul(pow(gamma, cast(cast(div(asFloat(step), stepSize), "int32"), "float64")), lr),
  );
}

/** Options of cosineDecay. */
export interface CosineDecayOptions {
  /** The initial (peak) learning rate. */
  readonly lr: number;
  /** Updates over which lr falls to minLr; it stays there afterwards. */
  readonly totalSteps: number;
  /** Final learning rate (default 0). */
  readonly minLr?: number;
}

/**
 * minLr + (lr − minLr)·(1 + cos(π·step/totalSteps))/2 up to totalSteps, then minLr: the closed
 * form of torch's CosineAnnealingLR (T_max = totalSteps, eta_min = minLr) without its restarts.
 */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const { lr, totalSteps, minLr = 0 } = options;
  checkNumber("cosineDecay", "lr", lr, (v) => v >= 0, "a finite number ≥ 0");
  checkNumber("cosineDecay", "totalSteps", totalSteps, isPositiveInt, "a positive integer");
  checkNumber("cosineDecay", "minLr", minLr, (v) => v >= 0, "a finite number ≥ 0");
  return traceable(
    (step) => {
      checkStep("cosineDecay", step);
      if (step >= totalSteps) return minLr;
      return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
    },
    (step) => {
      const s = asFloat(step);
      const cosine = add(cos(div(mul(s, Math.PI), totalSteps)), 1);
      const value = add(div(mul(cosine, lr - minLr), 2), minLr);
      return where(greaterEqual(s, totalSteps), minLr, value);
    },
  );
}

/**
 * Options of linearWarmup: `warmupSteps` updates of linear warmup towards a fixed `lr`, or towards
 * `schedule`, which starts once warmup ends. Give exactly one of `lr` and `schedule`.
 */
export type LinearWarmupOptions = { readonly warmupSteps: number } & (
  | { readonly lr: number; readonly schedule?: undefined }
  | { readonly schedule: Schedule; readonly lr?: undefined }
);

/**
 * target·(step + 1)/warmupSteps for the first warmupSteps updates, where target is `lr` or
 * schedule(0); afterwards `lr`, or schedule(step − warmupSteps) so the schedule starts fresh.
 */
export function linearWarmup(options: LinearWarmupOptions): Schedule {
  const { warmupSteps, lr, schedule } = options;
  checkNumber("linearWarmup", "warmupSteps", warmupSteps, isNonNegativeInt, "an integer ≥ 0");
  if ((lr === undefined) === (schedule === undefined)) {
    throw argumentError(
      "linearWarmup",
      "give exactly one of lr (a number) and schedule (a function)",
    );
  }
  let after: Schedule;
  if (schedule === undefined) {
    after = constant(lr!);
  } else if (typeof schedule === "function") {
    after = schedule;
  } else {
    throw argumentError(
      "linearWarmup",
      `schedule must be a function (step) => lr, got ${typeof schedule}`,
    );
  }
  const warmup = traceable(
    (step) => (after(0) * (step + 1)) / warmupSteps,
    (step) => div(mul(add(asFloat(step), 1), after(0)), warmupSteps),
  );
  return joinSchedules([warmup, after], [warmupSteps]);
}

/**
 * Runs schedules one after another: schedules[i] from boundaries[i − 1] on, each seeing the
 * steps since its own start (as optax.join_schedules). Boundaries are increasing integers.
 */
export function joinSchedules(
  schedules: readonly Schedule[],
  boundaries: readonly number[],
): Schedule {
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw argumentError("joinSchedules", "schedules must be a non-empty array of functions");
  }
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    throw argumentError(
      "joinSchedules",
      `needs one boundary between each pair of schedules: ${schedules.length - 1} for ` +
        `${schedules.length} schedules, got ${Array.isArray(boundaries) ? boundaries.length : typeof boundaries}`,
    );
  }
  boundaries.forEach((b, i) => {
    const previous = i === 0 ? 0 : boundaries[i - 1]!;
    const ok = (v: number) => Number.isInteger(v) && v >= previous;
    checkNumber("joinSchedules", `boundaries[${i}]`, b, ok, `an integer ≥ ${previous}`);
  });
  const joined = (step: number) => {
    checkStep("joinSchedules", step);
    let i = 0;
    while (i < boundaries.length && step >= boundaries[i]!) i++;
    const start = i === 0 ? 0 : boundaries[i - 1]!;
    return schedules[i]!(step - start);
  };
  if (!schedules.every((schedule) => schedule.traced !== undefined)) return joined;
  return traceable(joined, (step) => {
    // Every piece from its own start, then the one whose range holds the step.
    const pieces = schedules.map((schedule, i) =>
      schedule.traced!(i === 0 ? step : sub(step, boundaries[i - 1]!)),
    );
    let value = pieces[pieces.length - 1]!;
    for (let i = boundaries.length - 1; i >= 0; i--) {
      value = where(less(step, boundaries[i]!), pieces[i]!, value);
    }
    return value;
  });
}

/** A schedule of a number with its traced form, the same arithmetic with float64 ops. */
function traceable(ofNumber: (step: number) => number, traced: (step: Tensor) => Tensor): Schedule {
  return Object.assign(ofNumber, { traced });
}

/** The step as float64, as a number schedule computes with it. */
function asFloat(step: Tensor): Tensor {
  return cast(step, "float64");
}

function isPositiveInt(v: number): boolean {
  return Number.isInteger(v) && v > 0;
}

function isNonNegativeInt(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

function checkStep(fn: string, step: number): void {
  checkNumber(fn, "step", step, isNonNegativeInt, "an integer ≥ 0 (the updates applied so far)");
}
