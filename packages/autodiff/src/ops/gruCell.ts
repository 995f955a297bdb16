import { kernels } from "../backends/backend.js";
import type { FloatArray } from "../dtype.js";
import { defineOp, type BatchResult } from "../registry.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { add, mul, sub } from "./binary.js";
import { allInFront, blocksOf, cellOf, cellSample } from "./cells.js";
import { concat } from "./concat.js";
import { square } from "./unary.js";
import { floatData, isUnusedCotangent, unfilled } from "./util.js";

// One step of a GRU's gate arithmetic as one op, as lstmCell is for the LSTM. xs and hs are the
// input and hidden projections [..., 3·H] (PyTorch's order r, z, n; hs with b_hh, which must stay
// inside r∘(W_hn·h + b_hn)); h is the state [..., H]. The forward also returns the activations
// [r, z, n] ([..., 3·H]), the residuals of the backward op.

type Three = [Tensor, Tensor, Tensor];

/** gruCellBackward's arithmetic with primitive ops: what its vjp differentiates. */
function backwardComposite(acts: Tensor, hs: Tensor, h: Tensor, dh: Tensor) {
  const [r, z, n] = blocksOf(acts, 3) as Three;
  const hn = blocksOf(hs, 3)[2]!;
  const nu = mul(mul(dh, sub(1, z)), sub(1, square(n)));
  const rho = mul(mul(nu, hn), mul(r, sub(1, r)));
  const zeta = mul(mul(dh, sub(h, n)), mul(z, sub(1, z)));
  return [concat([rho, zeta, nu], -1), concat([rho, zeta, mul(nu, r)], -1), mul(dh, z)] as const;
}

/**
 * gruCell's gradient: gruCellBackward for the cotangent of h′, plus, where something used the
 * activations (second order does), their own terms: σ′ = s(1 − s) and tanh′ = 1 − n², n's passed
 * on to r through r∘h_n.
 */
function gruCellVjp(
  [dhNext, dacts]: readonly Tensor[],
  hs: Tensor,
  h: Tensor,
  acts: Tensor,
): [Tensor, Tensor, Tensor] {
  const [dxs, dhs, dh] = gruCellBackward(acts, hs, h, dhNext!);
  if (isUnusedCotangent(dacts!)) return [dxs, dhs, dh];
  const [r, z, n] = blocksOf(acts, 3) as Three;
  const [dr, dz, dn] = blocksOf(dacts!, 3) as Three;
  const nu = mul(dn, sub(1, square(n)));
  const rho = mul(add(dr, mul(nu, blocksOf(hs, 3)[2]!)), mul(r, sub(1, r)));
  const zeta = mul(dz, mul(z, sub(1, z)));
  return [add(dxs, concat([rho, zeta, nu], -1)), add(dhs, concat([rho, zeta, mul(nu, r)], -1)), dh];
}

const gruCellOp = defineOp({
  name: "gruCell",
  inputs: ["xs", "hs", "h"],
  outputs: ["hNext", "acts"],
  forward: ([xs, hs, h]) => {
    const { rows, hidden } = cellOf("gruCell", "r, z, n", [
      ["xs", xs, 3],
      ["hs", hs, 3],
      ["h", h, 1],
    ]);
    const hNext = unfilled(xs.dtype, h.shape);
    const acts = unfilled(xs.dtype, xs.shape);
    kernels().gruCell(
      floatData("gruCell", "xs", xs),
      floatData("gruCell", "hs", hs),
      floatData("gruCell", "h", h),
      rows,
      hidden,
      hNext.buffer as FloatArray,
      acts.buffer as FloatArray,
    );
    return [hNext, acts];
  },
  vjp: ({ dy, inputs: [, hs, h], y: [, acts] }) => gruCellVjp(dy, hs, h, acts),
  batch: ({ inputs, axes, size }): BatchResult<readonly ["hNext", "acts"]> => {
    const [xs, hs, h] = allInFront(inputs, axes, size);
    return { y: gruCellOp(xs!, hs!, h!, {}), axes: [0, 0] };
  },
  samples: (kit) =>
    cellSample(kit, [{ blocks: 3, range: 3 }, { blocks: 3, range: 3 }, { blocks: 1 }]).map(
      ([xs, hs, h]) => ({ inputs: [xs, hs, h], attrs: {} }),
    ),
});

/**
 * One GRU step's gate arithmetic (torch.nn.GRUCell after its two matmuls), from the input and
 * hidden projections xs = x·W_ihᵀ + b_ih and hs = h·W_hhᵀ + b_hh ([..., 3H], PyTorch's order r, z,
 * n) and the state h ([..., H]): r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r∘h_n),
 * h′ = (1 − z)∘n + z∘h. Returns [h′, acts], acts = [r, z, n] stacked on the last axis ([..., 3H]).
 * One fused kernel; the gradient is gruCellBackward.
 */
export function gruCell(
  xs: TensorLike,
  hs: TensorLike,
  h: TensorLike,
): readonly [h: Tensor, acts: Tensor] {
  return gruCellOp(xs, hs, h, {});
}

const gruCellBackwardOp = defineOp({
  name: "gruCellBackward",
  inputs: ["acts", "hs", "h", "dh"],
  outputs: ["dxs", "dhs", "dhPrev"],
  forward: ([acts, hs, h, dh]) => {
    const op = "gruCellBackward";
    const { rows, hidden } = cellOf(op, "r, z, n", [
      ["acts", acts, 3],
      ["hs", hs, 3],
      ["h", h, 1],
      ["dh", dh, 1],
    ]);
    const dxs = unfilled(acts.dtype, acts.shape);
    const dhs = unfilled(acts.dtype, acts.shape);
    const dhPrev = unfilled(acts.dtype, h.shape);
    kernels().gruCellBackward(
      floatData(op, "acts", acts),
      floatData(op, "hs", hs),
      floatData(op, "h", h),
      floatData(op, "dh", dh),
      rows,
      hidden,
      dxs.buffer as FloatArray,
      dhs.buffer as FloatArray,
      dhPrev.buffer as FloatArray,
    );
    return [dxs, dhs, dhPrev];
  },
  // Second order differentiates the same arithmetic written with primitive ops.
  vjp: ({ dy: cotangents, inputs: [acts, hs, h, dh] }) => {
    const [, pullback] = vjp(backwardComposite, acts, hs, h, dh);
    return pullback(cotangents);
  },
  batch: ({ inputs, axes, size }): BatchResult<readonly ["dxs", "dhs", "dhPrev"]> => {
    const [acts, hs, h, dh] = allInFront(inputs, axes, size);
    return { y: gruCellBackwardOp(acts!, hs!, h!, dh!, {}), axes: [0, 0, 0] };
  },
  // Activations as gruCell makes them: σ in (0, 1), tanh in (−1, 1).
  samples: (kit) =>
    cellSample(kit, [{ blocks: 3, range: 1 }, { blocks: 3 }, { blocks: 1 }, { blocks: 1 }]).map(
      ([acts, hs, h, dh]) => ({ inputs: [acts, hs, h, dh], attrs: {} }),
    ),
});

/**
 * The gradients of gruCell's h′ for cotangent dh, from its activations acts ([..., 3H]), the
 * hidden projection hs and the state h it was given: [dxs, dhs, dh_prev]. With
 * ν = dh·(1 − z)·(1 − n²), ρ = ν·h_n·r(1 − r) and ζ = dh·(h − n)·z(1 − z): dxs = [ρ, ζ, ν],
 * dhs = [ρ, ζ, ν·r], dh_prev = dh·z. One fused kernel; differentiable.
 */
export function gruCellBackward(
  acts: TensorLike,
  hs: TensorLike,
  h: TensorLike,
  dh: TensorLike,
): readonly [dxs: Tensor, dhs: Tensor, dhPrev: Tensor] {
  return gruCellBackwardOp(acts, hs, h, dh, {});
}
