import { add } from "@tapegrad/autodiff";
import { defineLayer, type Layer } from "../layer.js";
import { argumentError, shapeError, show, showShape } from "../layers/check.js";
import { applyChild, isLayer, subtree, type ParamsOf, type StateOf } from "./child.js";

/** Params (or state) of a residual block: the block's, and the shortcut's when there is one. */
export interface ResidualTree<B, S> {
  /** The block's params (or state). */
  readonly block: B;
  /** The shortcut's params (or state); absent for an identity shortcut. */
  readonly shortcut?: S;
}

/**
 * A residual connection (He et al. 2015): h = block(x) + shortcut(x), or block(x) + x without a
 * shortcut. The shortcut is a projection such as a 1×1 conv + batch norm where the block changes
 * the shape. Params and state are `{ block, shortcut? }`. The gradient reaches x along both paths.
 */
export function residual<B extends Layer, S extends Layer = Layer<Record<string, never>>>(
  block: B,
  shortcut?: S,
): Layer<ResidualTree<ParamsOf<B>, ParamsOf<S>>, ResidualTree<StateOf<B>, StateOf<S>>> {
  const where = "residual";
  if (!isLayer(block)) throw argumentError(where, `block must be a layer, got ${show(block)}`);
  if (shortcut !== undefined && !isLayer(shortcut)) {
    throw argumentError(where, `shortcut must be a layer or omitted, got ${show(shortcut)}`);
  }
  type P = ResidualTree<ParamsOf<B>, ParamsOf<S>>;
  type T = ResidualTree<StateOf<B>, StateOf<S>>;
  const children: Record<string, Layer> = shortcut ? { block, shortcut } : { block };
  return defineLayer<P, T>({
    kind: where,
    children,
    init: (rng) => {
      const b = block.init(rng.split());
      if (!shortcut) {
        return { params: { block: b.params } as P, state: { block: b.state } as T };
      }
      const s = shortcut.init(rng.split());
      return {
        params: { block: b.params, shortcut: s.params } as P,
        state: { block: b.state, shortcut: s.state } as T,
      };
    },
    applyWithState: (params, state, x, ctx) => {
      const [fx, blockState] = applyChild(
        "block",
        block,
        subtree(params, "block"),
        subtree(state, "block"),
        x,
        ctx,
      );
      let skip = x;
      let next = { block: blockState } as T;
      if (shortcut) {
        const [sx, shortcutState] = applyChild(
          "shortcut",
          shortcut,
          subtree(params, "shortcut"),
          subtree(state, "shortcut"),
          x,
          ctx,
        );
        skip = sx;
        next = { block: blockState, shortcut: shortcutState } as T;
      }
      const same =
        fx.shape.length === skip.shape.length && fx.shape.every((d, i) => d === skip.shape[i]);
      if (!same) {
        const what = shortcut ? "the shortcut's output" : "its input (no shortcut)";
        const hint = shortcut ? "" : "; pass a projection shortcut such as a 1×1 conv2d";
        throw shapeError(
          where,
          `block output ${showShape(fx.shape)} must have the shape of ${what} ` +
            `${showShape(skip.shape)}${hint}`,
        );
      }
      return [add(fx, skip), next];
    },
  });
}
