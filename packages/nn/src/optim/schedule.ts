import { argumentError } from "@tapegrad/autodiff";
import { checkNumber, type Schedule } from "./optimizer.js";

// A schedule's argument counts the updates already applied: 0 for the first, as in optax and as
// PyTorch's schedulers give when stepped once after every update.

/** lr at every step. */
export function constant(lr: number): Schedule {
  checkNumber("constant", "lr", lr, (v) => v >= 0, "a finite number ≥ 0");
  return (step) => {
    checkStep("constant", step);
    return lr;
  };
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
  return (step) => {
    checkStep("stepDecay", step);
    return lr * gamma ** Math.floor(step / stepSize);
  };
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
  return (step) => {
    checkStep("cosineDecay", step);
    if (step >= totalSteps) return minLr;
    return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
  };
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
  return joinSchedules([(step) => (after(0) * (step + 1)) / warmupSteps, after], [warmupSteps]);
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
  return (step) => {
    checkStep("joinSchedules", step);
    let i = 0;
    while (i < boundaries.length && step >= boundaries[i]!) i++;
    const start = i === 0 ? 0 : boundaries[i - 1]!;
    return schedules[i]!(step - start);
  };
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
