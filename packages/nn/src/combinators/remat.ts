import { Rng, checkpoint, type CheckpointOptions, type Tensor } from "@tapegrad/autodiff";
import { defineLayer, type Layer } from "../layer.js";
import { argumentError, show } from "../layers/check.js";
import { isLayer } from "./child.js";

/**
 * `layer`, rematerialised (autodiff's `checkpoint`): between forward and backward the tape keeps
 * only the layer's input, params and output, and backward runs the layer again. Wrap the blocks
 * of a deep network to trade one more forward per block for the memory of its intermediates;
 * gradients are unchanged. Params and state are the layer's own, so a model with and without
 * remat shares checkpoints. `options.policy` keeps the results of the ops it names.
 *
 * Randomness inside (dropout) comes from one split of `ctx.rng`, replayed identically when
 * backward runs the layer again: the masks of both runs are the same.
 */
export function remat<P, S>(layer: Layer<P, S>, options: CheckpointOptions = {}): Layer<P, S> {
  if (!isLayer(layer)) throw argumentError("remat", `expected a layer, got ${show(layer)}`);
  const where = `remat(${layer.kind})`;
  return defineLayer<P, S>({
    kind: where,
    init: (rng) => layer.init(rng),
    applyWithState: (params, state, x, ctx) => {
      const rngState = ctx.rng?.split().getState();
      const run = checkpoint(
        (p: P, s: S, input: Tensor) =>
          layer.applyWithState(p, s, input, {
            ...ctx,
            rng: rngState === undefined ? undefined : Rng.fromState(rngState),
          }),
        options,
      );
      return run(params, state, x);
    },
  });
}
