import { Rng, Tensor } from "@tapegrad/autodiff";
import { argumentError, show } from "./layers/check.js";

/** A layer's trainable parameters: a plain tree of tensors (`{}` for layers without any). */
export type Params = unknown;
/** A layer's non-trainable state, such as batch norm's running statistics (`{}` if none). */
export type State = unknown;

/** What a layer's initialisation returns: the params to train and the state to carry. */
export interface Variables<P = Params, S = State> {
  /** The trainable parameters: what grad differentiates and the optimizer updates. */
  readonly params: P;
  /** Non-trainable state carried between calls (running statistics), `{}` if none. */
  readonly state: S;
}

/** Per-call settings: training mode (dropout, batch statistics) and the randomness dropout uses. */
export interface ApplyContext {
  /** Training mode: dropout drops, batch norm uses and updates batch statistics. Default false. */
  readonly training?: boolean;
  /** Randomness for dropout and similar; required when such a layer runs in training mode. */
  readonly rng?: Rng;
  /**
   * Which keys attention layers may attend to: int32 [B, S] (or [S]), 1 for a real token and 0
   * for padding, as `padCollate`'s mask. (PyTorch's key_padding_mask is the opposite: True for
   * padding.) Combinators pass it on to every attention layer inside.
   */
  readonly keyMask?: Tensor;
}

/**
 * A layer is a pair of pure functions: `init(rng)` makes its variables; `apply` computes its
 * output. Hyperparameters live in the closure made by the layer's factory (`nn.conv2d({...})`),
 * so the gradient of a loss with respect to `params` has exactly the params' tree structure.
 * No layer contains backward code: gradients come from the ops' vjps.
 */
export interface Layer<P = Params, S = State> {
  /** What the layer is, for summaries and error messages: "conv2d", "sequential", … */
  readonly kind: string;
  /** Fresh params and state, drawn from `rng` (advanced in a fixed order, so reproducible). */
  init(rng: Rng): Variables<P, S>;
  /**
   * The output and the state after this call. In training mode stateful layers return updated
   * state (batch norm's running statistics); otherwise the state comes back unchanged.
   */
  applyWithState(params: P, state: S, x: Tensor, ctx?: ApplyContext): [Tensor, S];
  /**
   * The output alone. Stateful layers read their state from `ctx.state` (batch norm's running
   * statistics in eval mode); any state update is discarded.
   */
  apply(params: P, x: Tensor, ctx?: ApplyContext & { readonly state?: S }): Tensor;
  /** Sub-layers by name, for summaries (combinators only). */
  readonly children?: Readonly<Record<string, Layer>>;
}

/** The pieces a layer factory supplies; `defineLayer` derives `apply` from `applyWithState`. */
export interface LayerSpec<P, S> {
  /** What the layer is, as Layer.kind. */
  readonly kind: string;
  /** Fresh params and state drawn from `rng`, as Layer.init. */
  init(rng: Rng): Variables<P, S>;
  /** The output and the new state, as Layer.applyWithState (ctx always given). */
  applyWithState(params: P, state: S, x: Tensor, ctx: ApplyContext): [Tensor, S];
  /** Sub-layers by name, for summaries (combinators only). */
  readonly children?: Readonly<Record<string, Layer>>;
}

/** Builds a layer from its spec: one implementation serves both `apply` and `applyWithState`. */
export function defineLayer<P, S>(spec: LayerSpec<P, S>): Layer<P, S> {
  const { kind } = spec;
  return {
    kind,
    children: spec.children,
    init: (rng) => {
      if (!(rng instanceof Rng)) {
        throw argumentError(kind, `init needs an Rng (prng(seed)), got ${show(rng)}`);
      }
      return spec.init(rng);
    },
    applyWithState: (params, state, x, ctx = {}) =>
      spec.applyWithState(params, state, checkedInput(kind, x, ctx), ctx),
    // A missing ctx.state reads as {}: right for stateless layers; stateful ones check for
    // their fields and say what is missing.
    apply: (params, x, ctx = {}) => {
      checkedInput(kind, x, ctx);
      return spec.applyWithState(params, ctx.state ?? ({} as S), x, ctx)[0];
    },
  };
}

/** x itself, once x is a Tensor and ctx an object whose `training`, if given, is a boolean. */
function checkedInput(kind: string, x: unknown, ctx: unknown): Tensor {
  if (!(x instanceof Tensor)) throw argumentError(kind, `x must be a Tensor, got ${show(x)}`);
  if (typeof ctx !== "object" || ctx === null || Array.isArray(ctx)) {
    throw argumentError(kind, `ctx must be an object such as { training, rng }, got ${show(ctx)}`);
  }
  const { training } = ctx as ApplyContext;
  if (training !== undefined && typeof training !== "boolean") {
    throw argumentError(kind, `ctx.training must be true or false, got ${show(training)}`);
  }
  return x;
}

/** A layer with neither params nor state, defined by a function of x alone (activations, …). */
export function statelessLayer(
  kind: string,
  f: (x: Tensor, ctx: ApplyContext) => Tensor,
): Layer<Record<string, never>, Record<string, never>> {
  return defineLayer({
    kind,
    init: () => ({ params: {}, state: {} }),
    applyWithState: (params, state, x, ctx) => [f(x, ctx), state],
  });
}
