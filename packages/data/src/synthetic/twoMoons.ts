import {
  add,
  argumentError,
  cos,
  equal,
  show,
  sin,
  stack,
  sub,
  where,
  type Rng,
  type Tensor,
} from "@tapegrad/autodiff";

/** The points and labels `twoMoons` draws. */
export interface TwoMoons {
  /** The points, [n, 2] float32. */
  readonly x: Tensor;
  /** Their classes, [n] int32 (0 or 1). */
  readonly y: Tensor;
}

/**
 * Two interleaving half circles ("two moons", as scikit-learn's `make_moons`): n points, each
 * labelled 0 or 1 at random, class 0 on (cos t, sin t) and class 1 on (1 − cos t, ½ − sin t) for
 * t uniform in [0, π], centred on the origin, plus Gaussian noise of std `noise`. A small problem
 * that no linear model separates. Returns x [n, 2] float32 and int32 labels y [n].
 */
export function twoMoons(n: number, rng: Rng, noise = 0.1): TwoMoons {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw argumentError("twoMoons", `n must be a non-negative integer, got ${show(n)}`);
  }
  if (typeof noise !== "number" || !(noise >= 0)) {
    throw argumentError("twoMoons", `noise must be a number ≥ 0, got ${show(noise)}`);
  }
  const label = rng.randint(0, 2, [n]);
  const t = rng.uniform([n], { low: 0, high: Math.PI });
  const isUpper = equal(label, 0);
  const px = where(isUpper, cos(t), sub(1, cos(t)));
  const py = where(isUpper, sin(t), sub(0.5, sin(t)));
  const points = add(stack([sub(px, 0.5), sub(py, 0.25)], 1), rng.normal([n, 2], { std: noise }));
  return { x: points, y: label };
}
