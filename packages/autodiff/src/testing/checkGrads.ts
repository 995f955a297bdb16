import { TapegradError } from "../errors.js";
import { prng } from "../random.js";
import { Tensor } from "../tensor.js";
import { treeFlatten, treeMap } from "../tree.js";
import { vjp } from "../transforms.js";
import { isFloat } from "../dtype.js";

export interface CheckGradsOptions {
  /** Finite-difference step (default 1e-6, as torch.autograd.gradcheck). */
  readonly eps?: number;
  /** Absolute tolerance (default 1e-5). */
  readonly atol?: number;
  /** Relative tolerance, against the numeric value (default 1e-3). */
  readonly rtol?: number;
  /** Seed of the random cotangent that projects a non-scalar output to a scalar. */
  readonly seed?: number;
  /** Named in failure messages (an op's name, say). */
  readonly name?: string;
}

export interface CheckGradsReport {
  /** How many partial derivatives were compared. */
  readonly checked: number;
  readonly maxAbsError: number;
}

/**
 * Checks reverse-mode gradients of `f` at `args` against central finite differences in float64.
 * Float leaves of `args` (trees allowed) are promoted to float64 first. A non-scalar output is
 * projected onto a fixed random cotangent c, so what is compared is ∂⟨f(args), c⟩/∂args, one
 * element at a time: |analytic − numeric| ≤ atol + rtol·|numeric|. On failure it throws, naming
 * the argument path, element index, both values and the tolerance.
 */
export function checkGrads(
  f: (...args: never[]) => unknown,
  args: readonly unknown[],
  options: CheckGradsOptions = {},
): CheckGradsReport {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0, name = "checkGrads" } = options;
  const call = f as (...args: unknown[]) => unknown;
  const primals = args.map((a) => treeMap(toFloat64, a));
  const rng = prng(seed);
  const [out, pullback] = vjp(call, ...primals);
  const cotangent = treeMap(
    (leaf: unknown) =>
      leaf instanceof Tensor
        ? rng.uniform([...leaf.shape], { low: -1, high: 1, dtype: "float64" })
        : leaf,
    out,
  );
  const analytic = pullback(cotangent);
  const project = (value: unknown): number => {
    let total = 0;
    treeMap(
      (y: unknown, c: unknown) => {
        if (y instanceof Tensor && c instanceof Tensor) {
          for (let i = 0; i < y.size; i++) total += y.buffer[i]! * c.buffer[i]!;
        }
        return null;
      },
      value,
      cotangent,
    );
    return total;
  };

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
        const plus = project(call(...primals));
        buffer[i] = original - eps;
        const minus = project(call(...primals));
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

/** A float64 copy of a float tensor leaf (a private buffer the checker may perturb). */
function toFloat64(leaf: unknown): unknown {
  if (!(leaf instanceof Tensor) || !isFloat(leaf.dtype)) return leaf;
  return new Tensor(Float64Array.from(leaf.buffer), leaf.shape);
}
