import { TapegradError, argumentError } from "../errors.js";
import { prng, type Rng } from "../random.js";
import { Tensor, tensor, zerosLike } from "../tensor.js";
import { treeFlatten, treeMap } from "../tree.js";
import { vjp } from "../transforms.js";
import { jvp } from "../forward.js";
import { isFloat } from "../dtype.js";

/** How a derivative is computed: "rev" by vjp (reverse mode), "fwd" by jvp (forward mode). */
export type GradMode = "rev" | "fwd";

/** Step, tolerances, seed, order and modes of checkGrads; every field is optional. */
export interface CheckGradsOptions {
  /** Finite-difference step (default 1e-6, as torch.autograd.gradcheck). */
  readonly eps?: number;
  /** Absolute tolerance (default 1e-5). */
  readonly atol?: number;
  /** Relative tolerance, against the numeric value (default 1e-3). */
  readonly rtol?: number;
  /** Seed of the random cotangents and tangents that project outputs and pick directions. */
  readonly seed?: number;
  /** Named in failure messages (an op's name, say). */
  readonly name?: string;
  /**
   * 1 (default) checks first derivatives; 2 also checks the derivatives of f's vjp, the function
   * (args, c) ↦ ∂⟨f(args), c⟩/∂args, against finite differences of it, in the same modes.
   */
  readonly order?: 1 | 2;
  /**
   * "rev" (the default, alone) compares the vjp with finite differences element by element;
   * "fwd" compares the jvp along a random direction with the finite-difference directional
   * derivative, element by element of the output, and ⟨J·v, c⟩ with the reverse mode's ⟨v, Jᵀ·c⟩.
   */
  readonly modes?: readonly GradMode[];
}

/** What a passing checkGrads compared. */
export interface CheckGradsReport {
  /** How many partial derivatives were compared. */
  readonly checked: number;
  /** The largest |analytic − numeric| seen. */
  readonly maxAbsError: number;
}

interface Settings {
  readonly eps: number;
  readonly atol: number;
  readonly rtol: number;
  readonly seed: number;
  readonly name: string;
}

type Call = (...args: unknown[]) => unknown;

/**
 * Checks derivatives of `f` at `args` against central finite differences in float64. Float leaves
 * of `args` (trees allowed) are promoted to float64 first. In reverse mode a non-scalar output is
 * projected onto a fixed random cotangent c, so what is compared is ∂⟨f(args), c⟩/∂args, one
 * element at a time: |analytic − numeric| ≤ atol + rtol·|numeric|. `modes` adds forward mode and
 * `order: 2` the second derivatives (see the options). On failure it throws, naming the argument
 * path (or output path), element index, both values and the tolerance.
 */
export function checkGrads(
  f: (...args: never[]) => unknown,
  args: readonly unknown[],
  options: CheckGradsOptions = {},
): CheckGradsReport {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0, name = "checkGrads" } = options;
  const { order = 1, modes = ["rev"] } = options;
  if (order !== 1 && order !== 2) {
    throw argumentError(name, `order must be 1 or 2, got ${String(order)}`);
  }
  if (modes.length === 0 || modes.some((m) => m !== "rev" && m !== "fwd")) {
    throw argumentError(name, `modes must list "rev" and/or "fwd", got ${JSON.stringify(modes)}`);
  }
  const settings: Settings = { eps, atol, rtol, seed, name };
  const call = f as Call;
  const primals = args.map((a) => treeMap(toFloat64, a));
  let report: CheckGradsReport = { checked: 0, maxAbsError: 0 };
  for (const mode of new Set(modes)) {
    const step =
      mode === "rev"
        ? checkReverse(call, primals, settings)
        : checkForward(call, primals, settings);
    report = combine(report, step);
  }
  if (order === 2) {
    // The vjp as a function of the point and the cotangent: its derivatives in the point are f's
    // second derivatives; in c (it is linear in c) they are J, which is what jvp transposes.
    const k = primals.length;
    const c = randomLike(call(...primals), prng(seed).split());
    const vjpOf = (...inputs: unknown[]) => {
      const [, pullback] = vjp(call, ...inputs.slice(0, k));
      return treeMap(numberAsTensor, pullback(inputs[k]));
    };
    const second = checkGrads(vjpOf, [...primals, c], {
      ...options,
      order: 1,
      seed: seed + 1,
      name: `${name} (order 2, checking the vjp (args, c) ↦ ∂⟨f(args), c⟩/∂args; argument ${k} is c)`,
    });
    report = combine(report, second);
  }
  return report;
}

/** Reverse mode: ∂⟨f, c⟩/∂args by vjp against central differences, element by element. */
function checkReverse(call: Call, primals: unknown[], settings: Settings): CheckGradsReport {
  const { eps, atol, rtol, seed, name } = settings;
  const [out, pullback] = vjp(call, ...primals);
  const cotangent = randomLike(out, prng(seed));
  const analytic = pullback(cotangent);

  let checked = 0;
  let maxAbsError = 0;
  primals.forEach((primal, argIndex) => {
    const leaves = treeFlatten(primal);
    const grads = treeFlatten(analytic[argIndex]);
    leaves.forEach(([path, leaf], leafIndex) => {
      if (!(leaf instanceof Tensor) || !isFloat(leaf.dtype)) return;
      const g = grads[leafIndex]![1] as Tensor;
      const buffer = leaf.buffer;
      for (let i = 0; i < leaf.size; i++) {
        const original = buffer[i]!;
        buffer[i] = original + eps;
        const plus = dot(call(...primals), cotangent);
        buffer[i] = original - eps;
        const minus = dot(call(...primals), cotangent);
        buffer[i] = original;
        const numeric = (plus - minus) / (2 * eps);
        const value = g.buffer[i]!;
        const error = Math.abs(value - numeric);
        checked++;
        if (!(error <= atol + rtol * Math.abs(numeric))) {
          const where = `argument ${argIndex}${path === "" ? "" : ` ("${path}")`}, element ${i} of shape [${leaf.shape.join(",")}]`;
          throw new TapegradError(
            "GRADIENT_MISMATCH",
            `${name}: gradient mismatch at ${where}: analytic ${value}, numeric ${numeric} ` +
              `(|difference| ${error.toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|)`,
          );
        }
        maxAbsError = Math.max(maxAbsError, error);
      }
    });
  });
  return { checked, maxAbsError };
}

/**
 * Forward mode: the jvp along a random direction v against the central difference
 * (f(x + εv) − f(x − εv))/2ε, element by element of the output; then ⟨J·v, c⟩ against the
 * reverse mode's ⟨v, Jᵀ·c⟩ for a random c.
 */
function checkForward(call: Call, primals: unknown[], settings: Settings): CheckGradsReport {
  const { eps, atol, rtol, seed, name } = settings;
  // A stream of its own, so that v is not the reverse check's cotangent over again.
  const rng = prng(seed + 0x9e37);
  const direction = primals.map((p) => treeMap(randomTangent(rng), p));
  const [out, tangent] = jvp(call, primals, direction);

  // Move every float leaf along the direction at once; outputs are copied before the restore,
  // since a shape op's result may share its input's buffer.
  const moved = primals.flatMap((p, a) =>
    treeFlatten(p).flatMap(([, leaf], i) => {
      if (!(leaf instanceof Tensor) || !isFloat(leaf.dtype)) return [];
      const v = treeFlatten(direction[a])[i]![1] as Tensor;
      return [{ buffer: leaf.buffer, original: Float64Array.from(leaf.buffer), v: v.buffer }];
    }),
  );
  const outputsAt = (scale: number): Float64Array[] => {
    for (const { buffer, original, v } of moved) {
      for (let i = 0; i < buffer.length; i++) buffer[i] = original[i]! + scale * v[i]!;
    }
    const values = floatLeaves(call(...primals)).map(([, y]) => Float64Array.from(y.buffer));
    for (const { buffer, original } of moved) buffer.set(original);
    return values;
  };
  const plus = outputsAt(eps);
  const minus = outputsAt(-eps);

  let checked = 0;
  let maxAbsError = 0;
  const analytic = floatLeaves(tangent);
  floatLeaves(out).forEach(([path, y], k) => {
    const t = analytic[k]![1];
    for (let i = 0; i < y.size; i++) {
      const numeric = (plus[k]![i]! - minus[k]![i]!) / (2 * eps);
      const value = t.buffer[i]!;
      const error = Math.abs(value - numeric);
      checked++;
      if (!(error <= atol + rtol * Math.abs(numeric))) {
        const where = `output${path === "" ? "" : ` ("${path}")`}, element ${i} of shape [${y.shape.join(",")}]`;
        throw new TapegradError(
          "GRADIENT_MISMATCH",
          `${name}: forward-mode (jvp) mismatch at ${where}: analytic ${value}, numeric ${numeric} ` +
            `(|difference| ${error.toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|)`,
        );
      }
      maxAbsError = Math.max(maxAbsError, error);
    }
  });

  // ⟨J·v, c⟩ = ⟨v, Jᵀ·c⟩: forward and reverse mode describe the same J.
  const [, pullback] = vjp(call, ...primals);
  const cotangent = randomLike(out, rng);
  const forward = dot(tangent, cotangent);
  const reverse = dot(pullback(cotangent), direction);
  const error = Math.abs(forward - reverse);
  checked++;
  if (!(error <= atol + rtol * Math.abs(reverse))) {
    throw new TapegradError(
      "GRADIENT_MISMATCH",
      `${name}: forward and reverse mode disagree: ⟨J·v, c⟩ = ${forward} by jvp, ` +
        `⟨v, Jᵀ·c⟩ = ${reverse} by vjp (|difference| ${error.toExponential(3)} > atol ${atol} + ` +
        `rtol ${rtol}·|reverse|)`,
    );
  }
  return { checked, maxAbsError: Math.max(maxAbsError, error) };
}

function combine(a: CheckGradsReport, b: CheckGradsReport): CheckGradsReport {
  return { checked: a.checked + b.checked, maxAbsError: Math.max(a.maxAbsError, b.maxAbsError) };
}

/** Uniform(−1, 1) float64 values at the float tensor leaves of `tree`, zeros at int32 ones. */
function randomLike<T>(tree: T, rng: Rng): T {
  return treeMap((leaf: unknown) => {
    if (!(leaf instanceof Tensor)) return leaf;
    if (!isFloat(leaf.dtype)) return zerosLike(leaf);
    return rng.uniform([...leaf.shape], { low: -1, high: 1, dtype: "float64" });
  }, tree);
}

/** A random direction for one primal leaf: numbers and int32 tensors are not moved. */
function randomTangent(rng: Rng) {
  return (leaf: unknown): unknown => {
    if (typeof leaf === "number") return 0;
    return randomLike(leaf, rng);
  };
}

/** Σ a·b over the tensor leaves the two trees share. */
function dot(a: unknown, b: unknown): number {
  let total = 0;
  treeMap(
    (x: unknown, y: unknown) => {
      if (x instanceof Tensor && y instanceof Tensor) {
        for (let i = 0; i < x.size; i++) total += x.buffer[i]! * y.buffer[i]!;
      }
      return null;
    },
    a,
    b,
  );
  return total;
}

/** The float tensor leaves of a tree with their paths, in tree order. */
function floatLeaves(tree: unknown): [string, Tensor][] {
  return treeFlatten(tree).filter(
    (entry): entry is [string, Tensor] => entry[1] instanceof Tensor && isFloat(entry[1].dtype),
  );
}

function numberAsTensor(leaf: unknown): unknown {
  return typeof leaf === "number" ? tensor(leaf, { dtype: "float64" }) : leaf;
}

/** A float64 copy of a float tensor leaf (a private buffer the checker may perturb). */
function toFloat64(leaf: unknown): unknown {
  if (!(leaf instanceof Tensor) || !isFloat(leaf.dtype)) return leaf;
  return new Tensor(Float64Array.from(leaf.buffer), leaf.shape);
}
