import { defineLayer, type Layer } from "../layer.js";
import {
  applyChild,
  initChildren,
  keyedTree,
  layerEntries,
  subtree,
  type LayerList,
  type ParamsOf,
  type StateOf,
} from "./child.js";

/** The params of a list or record of layers: the same keys, each layer's params. */
export type ParamsOfAll<L extends LayerList> = { [K in keyof L]: ParamsOf<L[K]> };
/** The state of a list or record of layers: the same keys, each layer's state. */
export type StateOfAll<L extends LayerList> = { [K in keyof L]: StateOf<L[K]> };

/**
 * Layers applied in order, y = fₙ(…f₁(x)). A record gives readable names (params
 * `{ conv1: { weight, bias }, … }`); an array names them 0, 1, …. Params and state are trees with
 * those names; state is threaded through the layers in order. No layers: the identity.
 */
export function sequential<const L extends LayerList>(
  layers: L,
): Layer<ParamsOfAll<L>, StateOfAll<L>> {
  const where = "sequential";
  const entries = layerEntries(where, layers, 0);
  const asArray = Array.isArray(layers);
  return defineLayer<ParamsOfAll<L>, StateOfAll<L>>({
    kind: where,
    children: Object.fromEntries(entries),
    init: (rng) =>
      initChildren(rng, entries, asArray) as { params: ParamsOfAll<L>; state: StateOfAll<L> },
    applyWithState: (params, state, x, ctx) => {
      let y = x;
      const next: [string, unknown][] = [];
      for (const [key, layer] of entries) {
        const [out, s] = applyChild(key, layer, subtree(params, key), subtree(state, key), y, ctx);
        y = out;
        next.push([key, s]);
      }
      return [y, keyedTree(asArray, next) as StateOfAll<L>];
    },
  });
}
