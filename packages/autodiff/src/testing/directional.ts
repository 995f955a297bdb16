import { jvp } from "../forward.js";
import { prng } from "../random.js";
import { Tensor, zerosLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { treeMap } from "../tree.js";
import type { CheckGradsReport } from "./checkGrads.js";
import { errors, num, relativeError } from "./mismatch.js";
import { cotangentFor, dot, floatLeaves, outputValues, pointsAlong, signsLike } from "./probes.js";
import { roundingSize } from "./rounding.js";
import { elementLabel, mismatchError, type Settings, type Subject } from "./subject.js";
import { exceeded, floor, largest, within, type Floor } from "./tolerance.js";

/**
 * Forward mode along one random direction v of ±1 entries: the jvp against the central
 * difference (f(x + eps·v) − f(x − eps·v)) / 2eps, element by element of the output; then
 * ⟨J·v, c⟩ by jvp against ⟨v, Jᵀ·c⟩ by vjp. A few passes of f whatever the number of checked
 * elements, which makes it the fast check of a whole model.
 */
export function checkForward(subject: Subject, settings: Settings): CheckGradsReport {
  const { fn, primals } = subject;
  const { eps, rtol } = settings;
  // A stream of its own, so that v is not the reverse check's cotangent over again.
  const rng = prng(settings.seed + 0x9e37);
  // x ± eps·v as float64 rounds them, and v as the two points realize it (pointsAlong).
  const moved = new Map<Tensor, ReturnType<typeof pointsAlong>>();
  for (const [, leaf] of floatLeaves(primals)) {
    moved.set(leaf, pointsAlong(leaf, signsLike(leaf, rng).buffer, eps));
  }
  const pick = (key: "plus" | "minus" | "direction") =>
    primals.map((p) =>
      treeMap((leaf: unknown) => {
        const move = leaf instanceof Tensor ? moved.get(leaf) : undefined;
        if (move !== undefined) return move[key];
        // Numbers and int32 tensors stay where they are.
        if (key !== "direction") return leaf;
        if (leaf instanceof Tensor) return zerosLike(leaf);
        return typeof leaf === "number" ? 0 : leaf;
      }, p),
    );
  const direction = pick("direction");
  const [out, tangent] = jvp(fn, primals, direction);
  const plus = outputValues(fn(...pick("plus")));
  const minus = outputValues(fn(...pick("minus")));
  const cotangent = cotangentFor(out, rng);

  let checked = 0;
  let maxAbsError = 0;
  let maxRelError = 0;
  const note = (analytic: number, numeric: number, allowed: Floor) => {
    checked++;
    maxAbsError = Math.max(maxAbsError, Math.abs(analytic - numeric));
    if (Math.max(Math.abs(analytic), Math.abs(numeric)) > allowed.atol) {
      maxRelError = Math.max(maxRelError, relativeError(analytic, numeric));
    }
  };
  const analytic = floatLeaves(tangent);
  const scale = largest(analytic.map(([, t]) => t.buffer));
  const allowed = floor(settings, scale, roundingSize(fn, primals, cotangent), eps);
  plus.forEach(({ label, shape, values }, k) => {
    const t = analytic[k]![1].buffer;
    values.forEach((v, i) => {
      const numeric = (v - minus[k]!.values[i]!) / (2 * eps);
      const value = t[i]!;
      if (!within(allowed.atol, rtol, value, numeric)) {
        const output = elementLabel(label, shape, i);
        const lines = [
          `forward-mode derivative (jvp) disagrees with finite differences along a direction v ` +
            `of random ±1 entries`,
          `∂${output} along v: analytic ${num(value)}, numeric ${num(numeric)} ` +
            `(${errors(value, numeric)})`,
          exceeded(allowed, rtol, value, numeric),
        ];
        const details = { kind: "fwd" as const, output, analytic: value, numeric };
        throw mismatchError(settings, details, lines, direction);
      }
      note(value, numeric, allowed);
    });
  });

  // ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩: forward and reverse mode describe the same J.
  const [, pullback] = vjp(fn, ...primals);
  const forward = dot(tangent, cotangent);
  const reverse = dot(pullback(cotangent), direction);
  // Both sides are analytic: nothing was differenced, so no rounding noise to allow for.
  const agreed = floor(settings, Math.max(Math.abs(forward), Math.abs(reverse)), 0, eps);
  if (!within(agreed.atol, rtol, forward, reverse)) {
    const lines = [
      `forward and reverse mode disagree along a direction v and a cotangent c of random ±1 ` +
        `entries: ⟨J·v, c⟩ = ${num(forward)} by jvp, ⟨v, Jᵀ·c⟩ = ${num(reverse)} by vjp ` +
        `(${errors(forward, reverse)})`,
      exceeded(agreed, rtol, forward, reverse),
    ];
    const details = { kind: "fwd-rev" as const, analytic: forward, numeric: reverse };
    throw mismatchError(settings, details, lines, direction);
  }
  note(forward, reverse, agreed);
  return { checked, maxAbsError, maxRelError };
}
