import type { Rng, Tensor } from "@tapegrad/autodiff";

/**
 * A function of one image [C,H,W] or a batch [N,C,H,W]. Random transforms draw from `rng`
 * (per sample, in sample order), so the same generator state gives the same output.
 */
export type Transform = (x: Tensor, rng: Rng) => Tensor;

/** Applies the transforms left to right, all drawing from the same generator in turn. */
export function compose(...transforms: readonly Transform[]): Transform {
  return (x, rng) => transforms.reduce((y, t) => t(y, rng), x);
}

/**
 * Lifts an image transform to a loader batch `[inputs, ...rest]` (as tensorDataset gives):
 * the inputs are transformed, labels and other tensors pass through.
 */
export function onInputs(transform: Transform): (batch: Tensor[], rng: Rng) => Tensor[] {
  return ([inputs, ...rest], rng) => {
    if (inputs === undefined) return rest;
    return [transform(inputs, rng), ...rest];
  };
}
