import type { Tensor } from "../../tensor.js";
import { batchFirst } from "../transpose.js";
import { reshape } from "../reshape.js";

// Batching the convolutions (vmap). A batch of inputs x under one filter is a batch of more
// images: [B, N, C, H, W] → [B·N, C, H, W]. Filters that differ by slice make slice b's filters
// group block b: x's channels and w's filters both fold the batch in (foldBatch), and groups grow
// B-fold (functorch's per-sample-gradient trick); an unmapped operand is broadcast to fold.

/** The channel axis of a slice of x (mapped at `axis`): 1 for [N, C, H, W], 0 for [C, H, W]. */
export function channelAxis(x: Tensor, axis: number | null): number {
  return x.ndim - (axis === null ? 0 : 1) - 3;
}

/**
 * `conv` applied to the batch of x (at `axis`) as more images, [B, N?, C, H, W] → [B·N, C, H, W],
 * its result unfolded to [B, N?, C', H', W'] (batch axis 0).
 */
export function asImages(x: Tensor, axis: number, conv: (images: Tensor) => Tensor): Tensor {
  const front = batchFirst(x, axis);
  const lead = front.shape.slice(0, -3);
  const y = conv(reshape(front, [lead.reduce((p, d) => p * d, 1), ...front.shape.slice(-3)]));
  return reshape(y, [...lead, ...y.shape.slice(-3)]);
}
