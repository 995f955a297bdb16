import { add, cos, equal, sin, stack, sub, where, type Rng, type Tensor } from "@tapegrad/autodiff";

/**
 * Two interleaving half circles ("two moons"), n points each with Gaussian noise: class 0 on
 * (cos t, sin t), class 1 on (1 − cos t, ½ − sin t) for t in [0, π], centred on the origin.
 * The same data as examples/custom-op, so the two examples' accuracies can be compared.
 */
export function twoMoons(n: number, rng: Rng, noise = 0.1): { x: Tensor; y: Tensor } {
  const label = rng.randint(0, 2, [n]);
  const t = rng.uniform([n], { low: 0, high: Math.PI });
  const isUpper = equal(label, 0);
  const px = where(isUpper, cos(t), sub(1, cos(t)));
  const py = where(isUpper, sin(t), sub(0.5, sin(t)));
  const points = add(stack([sub(px, 0.5), sub(py, 0.25)], 1), rng.normal([n, 2], { std: noise }));
  return { x: points, y: label };
}
