import { TapegradError, type ErrorCode, type Rng, type Tensor } from "@tapegrad/autodiff";
import type { ApplyContext, Layer } from "../layer.js";
import { argumentError, show } from "../layers/check.js";

/** The params type of a layer. */
export type ParamsOf<L> = L extends Layer<infer P, infer _S> ? P : never;
/** The state type of a layer. */
export type StateOf<L> = L extends Layer<infer _P, infer S> ? S : never;

/** Sub-layers as a list (named 0, 1, …) or as a record whose keys become the tree's names. */
export type LayerList = readonly Layer[] | Readonly<Record<string, Layer>>;

/**
 * An error raised inside a sub-layer, with the path of names that leads to it: the message reads
 * `block2.bn: batchNorm2d: state.runningMean is missing …`. Code and detail are the original's.
 */
export class LayerError extends TapegradError {
  /** Names from the outermost combinator's child down to the failing layer. */
  readonly path: readonly string[];
  /** The failing layer's own message. */
  readonly detail: string;

  constructor(
    code: ErrorCode,
    path: readonly string[],
    detail: string,
    options?: { readonly cause?: unknown },
  ) {
    super(code, `${path.join(".")}: ${detail}`, options);
    this.path = path;
    this.detail = detail;
  }
}

/** @internal What `summary` listens with: a call per sub-layer application, in order. */
export interface Recorder {
  enter(key: string, layer: Layer, params: unknown, state: unknown): void;
  exit(y: Tensor): void;
}

/** @internal The context key under which `summary` passes its recorder down the model. */
export const RECORDER: unique symbol = Symbol("tapegrad.nn.recorder");

/** @internal A context that may carry a summary recorder (combinators pass ctx on unchanged). */
export type RecordingContext = ApplyContext & { readonly [RECORDER]?: Recorder };

/**
 * The [name, layer] pairs of a combinator's argument, validated: names must be non-empty and
 * free of dots (they become path segments), and each value must be a layer.
 */
export function layerEntries(where: string, layers: LayerList, min: number): [string, Layer][] {
  if (typeof layers !== "object" || layers === null) {
    throw argumentError(where, `expected an array or a record of layers, got ${show(layers)}`);
  }
  const entries: [string, Layer][] = Array.isArray(layers)
    ? layers.map((layer, i): [string, Layer] => [String(i), layer])
    : Object.entries(layers);
  if (entries.length < min) {
    throw argumentError(where, `expected at least ${min} layer(s), got ${entries.length}`);
  }
  for (const [name, layer] of entries) {
    if (name === "" || name.includes(".") || name === "__proto__") {
      throw argumentError(
        where,
        `layer names must be non-empty and contain no ".", got ${JSON.stringify(name)}`,
      );
    }
    if (!isLayer(layer)) {
      throw argumentError(where, `layers.${name} must be a layer, got ${show(layer)}`);
    }
  }
  return entries;
}

/** Whether `value` has the shape of a Layer (kind, init, applyWithState). */
export function isLayer(value: unknown): value is Layer {
  const layer = value as Partial<Layer> | null;
  return (
    typeof value === "object" &&
    layer !== null &&
    typeof layer.kind === "string" &&
    typeof layer.init === "function" &&
    typeof layer.applyWithState === "function"
  );
}

/** Builds a tree with the combinator's shape: an array for a list, a record for a record. */
export function keyedTree(asArray: boolean, entries: readonly [string, unknown][]): unknown {
  if (asArray) return entries.map(([, value]) => value);
  return Object.fromEntries(entries);
}

/**
 * Initialises each child with its own split of `rng` (so a layer's init does not depend on how
 * much its siblings draw) and gathers their params and state into trees of the combinator's shape.
 */
export function initChildren(
  rng: Rng,
  entries: readonly [string, Layer][],
  asArray: boolean,
): { params: unknown; state: unknown } {
  const variables = entries.map(([key, layer]) => [key, layer.init(rng.split())] as const);
  return {
    params: keyedTree(
      asArray,
      variables.map(([k, v]) => [k, v.params]),
    ),
    state: keyedTree(
      asArray,
      variables.map(([k, v]) => [k, v.state]),
    ),
  };
}

/**
 * A sub-tree by name. A layer without params may be missing altogether (a tree that went through
 * treeFlatten/treeUnflatten, say, loses empty objects): it reads as `{}`.
 */
export function subtree(tree: unknown, key: string): unknown {
  if (typeof tree !== "object" || tree === null) return {};
  return (tree as Record<string, unknown>)[key] ?? {};
}

/**
 * Applies one sub-layer: reports it to a summary recorder in ctx, if any, and prefixes the name to
 * the path of any tapegrad error it raises.
 */
export function applyChild(
  key: string,
  layer: Layer,
  params: unknown,
  state: unknown,
  x: Tensor,
  ctx: RecordingContext,
): [Tensor, unknown] {
  const recorder = ctx[RECORDER];
  recorder?.enter(key, layer, params, state);
  let out: [Tensor, unknown];
  try {
    out = layer.applyWithState(params, state, x, ctx);
  } catch (error) {
    // The original stays the cause: a NonFiniteError's op, phase and site remain readable.
    if (error instanceof LayerError) {
      throw new LayerError(error.code, [key, ...error.path], error.detail, {
        cause: error.cause ?? error,
      });
    }
    if (error instanceof TapegradError) {
      throw new LayerError(error.code, [key], error.message, { cause: error });
    }
    throw error;
  }
  recorder?.exit(out[0]);
  return out;
}
