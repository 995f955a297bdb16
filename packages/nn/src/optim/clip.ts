import {
  Tensor,
  add,
  argumentError,
  cast,
  div,
  minimum,
  mul,
  show,
  sqrt,
  square,
  sum,
  treeFlatten,
  treeMap,
  zeros,
} from "@tapegrad/autodiff";
import { checkNumber, type GradientTransform } from "./optimizer.js";

/**
 * Scales every gradient by min(1, maxNorm/(‖g‖ + 1e-6)), where ‖g‖ is the L2 norm of all leaves
 * together, as torch.nn.utils.clip_grad_norm_. Returns the clipped tree and ‖g‖ before clipping,
 * a float64 scalar. Computed with ops throughout, so it can be traced by jit.
 */
export function clipByGlobalNorm<G>(grads: G, maxNorm: number): [G, Tensor] {
  checkNumber("clipByGlobalNorm", "maxNorm", maxNorm, (v) => v > 0, "a finite number > 0");
  let total: Tensor | undefined;
  for (const [path, leaf] of treeFlatten(grads)) {
    if (!(leaf instanceof Tensor)) {
      const where = path === "" ? "grads" : `grads.${path}`;
      throw argumentError("clipByGlobalNorm", `${where} must be a tensor, got ${show(leaf)}`);
    }
    // Squares summed in float64, so a float32 tree's norm does not overflow or lose precision.
    const squares = sum(square(cast(leaf, "float64")));
    total = total === undefined ? squares : add(total, squares);
  }
  const norm = sqrt(total ?? zeros([], "float64"));
  const factor = minimum(div(maxNorm, add(norm, 1e-6)), 1);
  const clipped = treeMap((g: Tensor) => mul(g, cast(factor, g.dtype)), grads);
  return [clipped, norm];
}

/** The gradient transform of clipByGlobalNorm, for `chain(clipGradients(1), sgd({ lr }))`. */
export function clipGradients(maxNorm: number): GradientTransform {
  checkNumber("clipGradients", "maxNorm", maxNorm, (v) => v > 0, "a finite number > 0");
  return <G>(grads: G) => clipByGlobalNorm(grads, maxNorm)[0];
}
