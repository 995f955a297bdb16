import { concat, type Tensor } from "@tapegrad/autodiff";
import { defineLayer, type Layer } from "../layer.js";
import { argumentError, optionsObject, shapeError, show, showShape } from "../layers/check.js";
import {
  applyChild,
  initChildren,
  keyedTree,
  layerEntries,
  subtree,
  type LayerList,
} from "./child.js";
import type { ParamsOfAll, StateOfAll } from "./sequential.js";

/** Options of `parallel`. */
export interface ParallelOptions {
  /** The axis the branch outputs are concatenated along (default 1, channels of NCHW). */
  readonly concatAxis?: number;
}

/**
 * Branches applied to the same input, outputs concatenated along `concatAxis` (default 1: the
 * channels of NCHW), as in an Inception block (1×1, 3×3, 5×5 and pooling branches side by side).
 * Params and state are named like sequential's. The gradient of x sums over the branches.
 */
export function parallel<const L extends LayerList>(
  branches: L,
  options: ParallelOptions = {},
): Layer<ParamsOfAll<L>, StateOfAll<L>> {
  const where = "parallel";
  optionsObject(where, options);
  const entries = layerEntries(where, branches, 1);
  const asArray = Array.isArray(branches);
  const axis = options.concatAxis ?? 1;
  if (!Number.isInteger(axis)) {
    throw argumentError(where, `concatAxis must be an integer, got ${show(axis)}`);
  }
  return defineLayer<ParamsOfAll<L>, StateOfAll<L>>({
    kind: where,
    children: Object.fromEntries(entries),
    init: (rng) =>
      initChildren(rng, entries, asArray) as { params: ParamsOfAll<L>; state: StateOfAll<L> },
    applyWithState: (params, state, x, ctx) => {
      const outputs: Tensor[] = [];
      const next: [string, unknown][] = [];
      for (const [key, layer] of entries) {
        const [y, s] = applyChild(key, layer, subtree(params, key), subtree(state, key), x, ctx);
        outputs.push(y);
        next.push([key, s]);
      }
      const rank = outputs[0]!.ndim;
      const a = axis < 0 ? axis + rank : axis;
      const fits = outputs.every(
        (y) =>
          y.ndim === rank &&
          a >= 0 &&
          a < rank &&
          y.shape.every((d, i) => i === a || d === outputs[0]!.shape[i]),
      );
      if (!fits) {
        const shapes = entries.map(([key], i) => `${key} ${showShape(outputs[i]!.shape)}`);
        throw shapeError(
          where,
          `branch outputs must agree on every axis but concatAxis ${axis}, got ${shapes.join(", ")}`,
        );
      }
      return [concat(outputs, axis), keyedTree(asArray, next) as StateOfAll<L>];
    },
  });
}
