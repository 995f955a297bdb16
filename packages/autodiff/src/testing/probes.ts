import type { Rng } from "../random.js";
import { isFloat } from "../dtype.js";
import { Tensor, full, zerosLike } from "../tensor.js";
import { treeFlatten, treeMap } from "../tree.js";

// The checker's vectors: cotangents that project outputs and directions that move arguments.
// Every entry is ±1, so a tolerance means the same for every seed: a wrong partial derivative
// enters a projection with weight 1, never scaled down by a small random factor.

/** Random ±1 float64 entries at the float tensor leaves of `tree`, zeros at int32 ones. */
export function signsLike<T>(tree: T, rng: Rng): T {
  return treeMap((leaf: unknown) => {
    if (!(leaf instanceof Tensor)) return leaf;
    if (!isFloat(leaf.dtype)) return zerosLike(leaf);
    const signs = new Float64Array(leaf.size);
    for (let i = 0; i < signs.length; i++) signs[i] = rng.nextDouble() < 0.5 ? -1 : 1;
    return new Tensor(signs, leaf.shape);
  }, tree);
}

/**
 * The cotangent that projects f's output to one number: 1 for an output of one element (a
 * loss is not projected at all), random ±1 entries otherwise.
 */
export function cotangentFor<T>(out: T, rng: Rng): T {
  if (isProjected(out)) return signsLike(out, rng);
  return treeMap((leaf: unknown) => {
    if (!(leaf instanceof Tensor)) return leaf;
    return isFloat(leaf.dtype) ? full(leaf.shape, 1, "float64") : zerosLike(leaf);
  }, out);
}

/** Whether f's output has more than one float element, so that checks project it. */
export function isProjected(out: unknown): boolean {
  return floatLeaves(out).reduce((n, [, y]) => n + y.size, 0) !== 1;
}

/**
 * Σ a·probe over the tensor leaves the two trees share, leaving out the terms where the probe
 * (a cotangent or a direction) is 0: a value there may be infinite, as a masked attention score
 * is, and takes no part.
 */
export function dot(a: unknown, probe: unknown): number {
  let total = 0;
  treeMap(
    (x: unknown, y: unknown) => {
      if (x instanceof Tensor && y instanceof Tensor) {
        for (let i = 0; i < x.size; i++) {
          const weight = y.buffer[i]!;
          if (weight !== 0) total += x.buffer[i]! * weight;
        }
      }
      return null;
    },
    a,
    probe,
  );
  return total;
}

/**
 * The points x + h·d and x − h·d as float64 rounds them, and the direction (x₊ − x₋) / 2h that
 * they differ by exactly: finite differences divide by that, so that the rounding of x ± h·d
 * (large where |x| is) never enters the numeric derivative.
 */
export function pointsAlong(
  x: Tensor,
  d: ArrayLike<number>,
  h: number,
): { plus: Tensor; minus: Tensor; direction: Tensor } {
  const plus = shifted(x, d, h);
  const minus = shifted(x, d, -h);
  // Where x is infinite it cannot move: the direction is 0 there, not ∞ − ∞.
  const direction = plus.buffer.map((v, i) =>
    v === minus.buffer[i] ? 0 : (v - minus.buffer[i]!) / (2 * h),
  );
  return { plus, minus, direction: new Tensor(direction, x.shape) };
}

/** x + h·d as a new float64 tensor. */
export function shifted(x: Tensor, d: ArrayLike<number>, h: number): Tensor {
  return new Tensor(
    Float64Array.from(x.buffer, (v, i) => v + h * d[i]!),
    x.shape,
  );
}

/** The float tensor leaves of a tree with their paths, in tree order. */
export function floatLeaves(tree: unknown): [string, Tensor][] {
  return treeFlatten(tree).filter(
    (entry): entry is [string, Tensor] => entry[1] instanceof Tensor && isFloat(entry[1].dtype),
  );
}

/** A float64 copy of a float tensor leaf (a private buffer the checker may perturb). */
export function toFloat64(leaf: unknown): unknown {
  if (!(leaf instanceof Tensor) || !isFloat(leaf.dtype)) return leaf;
  return new Tensor(Float64Array.from(leaf.buffer), leaf.shape);
}

/** `params.l1.w`: an argument's label joined with a leaf's path inside it. */
export function leafLabel(argument: string, path: string): string {
  return path === "" ? argument : `${argument}.${path}`;
}

/** Copies of the float leaves of f's output, labelled as `out` or `out.<path>`. */
export function outputValues(
  out: unknown,
): { label: string; shape: readonly number[]; values: Float64Array }[] {
  return floatLeaves(out).map(([path, y]) => ({
    label: leafLabel("out", path),
    shape: y.shape,
    values: Float64Array.from(y.buffer),
  }));
}
