import type { TypedArray } from "../dtype.js";
import { unravelIndex } from "../errors.js";
import { jvp } from "../forward.js";
import { prng, type Rng } from "../random.js";
import { Tensor, zerosLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { treeMap } from "../tree.js";
import type { CheckGradsReport } from "./checkGrads.js";
import { errors, num, relativeError } from "./mismatch.js";
import { cotangentFor, dot, floatLeaves, isProjected, outputValues } from "./probes.js";
import { roundingSize } from "./rounding.js";
import { progressReporter } from "./progress.js";
import { exceeded, floor, largest, within, type Floor } from "./tolerance.js";
import {
  checkedLeaves,
  elementLabel,
  gradientLeaves,
  mismatchError,
  shapeNote,
  type CheckedLeaf,
  type Settings,
  type Subject,
} from "./subject.js";

/**
 * Reverse mode: ∂⟨f, c⟩/∂x by one vjp against central differences, one element of the checked
 * arguments at a time (all of them, or `samples` drawn at random). c is 1 for an output of one
 * element, random ±1 entries otherwise (probes.ts).
 */
export function checkReverse(subject: Subject, settings: Settings): CheckGradsReport {
  const { fn, primals } = subject;
  const { eps, rtol, seed } = settings;
  const rng = prng(seed);
  const [out, pullback] = vjp(fn, ...primals);
  const cotangent = cotangentFor(out, rng);
  const grads = gradientLeaves(pullback(cotangent));
  const scale = largest(grads.map((g) => g.buffer));
  const allowed = floor(settings, scale, roundingSize(fn, primals, cotangent), eps);
  const leaves = checkedLeaves(subject);
  const sizes = leaves.map((leaf) => leaf.tensor.size);
  const picked = pickElements(sizes, settings.samples, rng);
  const progress = progressReporter(settings.name, picked.length, settings.onProgress);

  let maxAbsError = 0;
  let maxRelError = 0;
  let l = 0;
  let offset = 0;
  picked.forEach((flat, n) => {
    while (flat >= offset + sizes[l]!) offset += sizes[l++]!;
    const i = flat - offset;
    const { plus, minus, step } = differenced(leaves[l]!.tensor.buffer, i, eps, () =>
      dot(fn(...primals), cotangent),
    );
    const numeric = (plus - minus) / step;
    const analytic = grads[l]!.buffer[i]!;
    if (!within(allowed.atol, rtol, analytic, numeric)) {
      const failure = { leaves, l, i, cotangent, analytic, numeric, allowed };
      throw reverseMismatch(subject, settings, failure);
    }
    maxAbsError = Math.max(maxAbsError, Math.abs(analytic - numeric));
    if (Math.max(Math.abs(analytic), Math.abs(numeric)) > allowed.atol) {
      maxRelError = Math.max(maxRelError, relativeError(analytic, numeric));
    }
    progress(n + 1);
  });
  return { checked: picked.length, maxAbsError, maxRelError };
}

/**
 * `evaluate` with element i of `buffer` moved up and down by eps, and the step between the two
 * points as float64 took it: x ± eps rounds, by up to the roundoff of |x|, and dividing by the
 * step taken keeps that rounding out of the numeric derivative.
 */
function differenced<T>(
  buffer: TypedArray,
  i: number,
  eps: number,
  evaluate: () => T,
): { plus: T; minus: T; step: number } {
  const original = buffer[i]!;
  buffer[i] = original + eps;
  const above = buffer[i]!;
  const plus = evaluate();
  buffer[i] = original - eps;
  const below = buffer[i]!;
  const minus = evaluate();
  buffer[i] = original;
  return { plus, minus, step: above - below };
}

/**
 * Flat indices into the checked elements, in increasing order: every one, or `samples` distinct
 * ones drawn uniformly (Floyd's algorithm: `samples` draws, whatever the total).
 */
function pickElements(sizes: readonly number[], samples: number | undefined, rng: Rng): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (samples === undefined || samples >= total) return Array.from({ length: total }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = total - samples; j < total; j++) {
    const t = Math.floor(rng.nextDouble() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

interface Failure {
  readonly leaves: readonly CheckedLeaf[];
  /** The failing element: element i of leaf l. */
  readonly l: number;
  readonly i: number;
  readonly cotangent: unknown;
  /** The projected derivatives ∂⟨f, c⟩/∂x that were compared, and the atol they exceeded. */
  readonly analytic: number;
  readonly numeric: number;
  readonly allowed: Floor;
}

/**
 * The mismatch error for element i of leaf l. When the output was projected, the compared
 * numbers are sums over the output's elements: the message recovers the worst single partial
 * derivative ∂out[k]/∂x[i] instead (the numeric column from f(x ± eps), the analytic one from
 * the rules along x[i], then that entry by the vjp itself).
 */
function reverseMismatch(subject: Subject, settings: Settings, failure: Failure) {
  const { leaves, l, i, cotangent } = failure;
  const leaf = leaves[l]!;
  const input = elementLabel(leaf.label, leaf.tensor.shape, i);
  const unit = unitAt(subject.primals, l, i);
  const lines = [
    `reverse-mode gradient (vjp) disagrees with finite differences at ${input}` +
      shapeNote(leaf.label, leaf.tensor.shape),
  ];
  let entry = { output: "", analytic: failure.analytic, numeric: failure.numeric };
  if (!isProjected(cotangent)) {
    const [only] = outputValues(cotangent);
    entry.output = elementLabel(only!.label, only!.shape, 0);
  } else {
    try {
      entry = worstEntry(subject, settings, failure, unit);
    } catch (error) {
      entry.output = "⟨out, c⟩";
      lines.push(`(no single partial derivative recovered: ${String(error)})`);
    }
  }
  const { output, analytic, numeric } = entry;
  lines.push(
    `∂${output}/∂${input}: analytic ${num(analytic)}, numeric ${num(numeric)} ` +
      `(${errors(analytic, numeric)})`,
  );
  if (isProjected(cotangent)) {
    lines.push(
      `compared ∂⟨out, c⟩/∂${input} for a cotangent c of random ±1 entries: analytic ` +
        `${num(failure.analytic)}, numeric ${num(failure.numeric)}; ` +
        exceeded(failure.allowed, settings.rtol, failure.analytic, failure.numeric),
    );
  } else {
    lines.push(exceeded(failure.allowed, settings.rtol, analytic, numeric));
  }
  const index = unravelIndex(leaf.tensor.shape, i);
  const details = { kind: "rev" as const, input: leaf.label, index, output, analytic, numeric };
  return mismatchError(settings, details, lines, unit);
}

/** The output entry whose partial derivative in element i of leaf l is furthest out of tolerance. */
function worstEntry(subject: Subject, settings: Settings, failure: Failure, unit: unknown[]) {
  const { fn, primals } = subject;
  const buffer = failure.leaves[failure.l]!.tensor.buffer;
  const { plus, minus, step } = differenced(buffer, failure.i, settings.eps, () =>
    outputValues(fn(...primals)),
  );
  const [, column] = jvp(fn, primals, unit);
  const analyticColumn = floatLeaves(column);
  let worst = { k: 0, j: 0, excess: -Infinity, numeric: 0 };
  plus.forEach(({ values }, k) => {
    const a = analyticColumn[k]![1].buffer;
    values.forEach((v, j) => {
      const n = (v - minus[k]!.values[j]!) / step;
      const excess = Math.abs(a[j]! - n) - settings.rtol * Math.abs(n);
      if (excess > worst.excess || Number.isNaN(excess)) worst = { k, j, excess, numeric: n };
    });
  });
  // The entry as reverse mode computes it: the vjp of a cotangent that is 1 there, 0 elsewhere.
  const [out, pullback] = vjp(fn, ...primals);
  const single = treeMap((y: unknown) => (y instanceof Tensor ? zerosLike(y) : y), out);
  floatLeaves(single)[worst.k]![1].buffer[worst.j] = 1;
  const analytic = gradientLeaves(pullback(single))[failure.l]!.buffer[failure.i]!;
  const entry = plus[worst.k]!;
  return {
    output: elementLabel(entry.label, entry.shape, worst.j),
    analytic,
    numeric: worst.numeric,
  };
}

/** A tangent per checked argument: 1 at element i of leaf l, 0 everywhere else. */
function unitAt(primals: readonly unknown[], l: number, i: number): unknown[] {
  const unit = primals.map((p) =>
    treeMap((leaf: unknown) => {
      if (leaf instanceof Tensor) return zerosLike(leaf);
      return typeof leaf === "number" ? 0 : leaf;
    }, p),
  );
  gradientLeaves(unit)[l]!.buffer[i] = 1;
  return unit;
}
