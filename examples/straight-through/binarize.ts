import {
  abs,
  cast,
  customVjp,
  greaterEqual,
  lessEqual,
  maximum,
  minimum,
  mul,
  where,
  type Tensor,
} from "@tapegrad/autodiff";

/** y = +1 where x ≥ 0, else −1, in x's dtype: sign with sign(0) = +1, so y is exactly ±1. */
export function binarySign(x: Tensor): Tensor {
  return cast(where(greaterEqual(x, 0), 1, -1), x.dtype);
}

/** The clipped straight-through mask: 1 where |x| ≤ 1, else 0, in x's dtype. */
export function straightThroughMask(x: Tensor): Tensor {
  return cast(lessEqual(abs(x), 1), x.dtype);
}

/**
 * Binarisation with a straight-through estimator (Hubara et al., BinaryNet, 2016): the forward
 * pass is binarySign(x) ∈ {−1, 1}; the gradient is dx = dy·[|x| ≤ 1], as if sign were hardtanh.
 * The true derivative of sign is 0 almost everywhere, which would teach the network nothing.
 */
export const binarize = customVjp((x: Tensor) => binarySign(x), {
  fwd: (x: Tensor) => [binarySign(x), x] as const,
  bwd: (x: Tensor, dy: Tensor) => [mul(dy, straightThroughMask(x))],
  name: "binarize",
});

/**
 * hardtanh(x) = min(max(x, −1), 1): the surrogate whose derivative, [|x| < 1] away from the
 * kinks at ±1, binarize borrows. Gradient: minimum's and maximum's rules.
 */
export function hardtanh(x: Tensor): Tensor {
  return minimum(maximum(x, -1), 1);
}
