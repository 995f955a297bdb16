import {
  Tensor,
  argumentError,
  cast,
  mul,
  show,
  square,
  sum,
  treeFlatten,
  treeMap,
} from "@tapegrad/autodiff";
import { checkNumber, type GradientTransform } from "./optimizer.js";

/**
 * Scales every gradient by min(1, maxNorm/(‖g‖ + 1e-6)), where ‖g‖ is the L2 norm of all leaves
 * together, as torch.nn.utils.clip_grad_norm_. Returns the clipped tree and ‖g‖ before clipping.
 */
export function clipByGlobalNorm<G>(grads: G, maxNorm: number): [G, number] {
  checkNumber("clipByGlobalNorm", "maxNorm", maxNorm, (v) => v > 0, "a finite number > 0");
  let total = 0;
  for (const [path, leaf] of treeFlatten(grads)) {
    if (!(leaf instanceof Tensor)) {
      const where = path === "" ? "grads" : `grads.${path}`;
      throw argumentError("clipByGlobalNorm", `${where} must be a tensor, got ${show(leaf)}`);
    }
    // Squares summed in float64, so a float32 tree's norm does not overflow or lose precision.
    total += sum(square(cast(leaf, "float64"))).item();
  }
  const norm = Math.sqrt(total);
  const coefficient = maxNorm / (norm + 1e-6);
  const clipped = treeMap((g: Tensor) => (coefficient < 1 ? mul(g, coefficient) : g), grads);
  return [clipped, norm];
}

/** The gradient transform of clipByGlobalNorm, for `chain(clipGradients(1), sgd({ lr }))`. */
export function clipGradients(maxNorm: number): GradientTransform {
  checkNumber("clipGradients", "maxNorm", maxNorm, (v) => v > 0, "a finite number > 0");
  return <G>(grads: G) => clipByGlobalNorm(grads, maxNorm)[0];
}
