import {
  add,
  cast,
  checkpoint,
  gruCell,
  lstmCell,
  matmul,
  reshape,
  slice,
  stack,
  Tensor,
  transpose,
  zeros,
  type FloatDType,
  type Rng,
} from "@tapegrad/autodiff";
import { uniform } from "../init.js";
import { defineLayer, type Layer } from "../layer.js";
import {
  argumentError,
  booleanOption,
  drawParam,
  floatDType,
  optionsObject,
  paramOf,
  positiveInt,
  shapeError,
  show,
  showShape,
  type NoState,
} from "./check.js";

/** Options of lstm and gru, as torch.nn.LSTM and torch.nn.GRU (unidirectional, no dropout). */
export interface RecurrentOptions {
  /** I, the size of the input's last axis. */
  readonly inputSize: number;
  /** H, the size of the hidden state. */
  readonly hiddenSize: number;
  /** Stacked layers, each reading the hidden states of the one below (default 1). */
  readonly numLayers?: number;
  /** Input and output as [B, T, ·] instead of [T, B, ·] (default false); states stay [L, B, H]. */
  readonly batchFirst?: boolean;
  /** Learn bias_ih and bias_hh (default true). */
  readonly bias?: boolean;
  /** Default "float32". */
  readonly dtype?: FloatDType;
  /**
   * Rematerialise every time step (autodiff's `checkpoint`): the tape keeps each step's state and
   * input, not its gates, and the backward pass recomputes them (default false). Same gradients.
   */
  readonly remat?: boolean;
}

/**
 * The params of lstm and gru, named and laid out as PyTorch's state_dict, for each layer k:
 * `weight_ih_lk` [G·H, I] (I = H above layer 0), `weight_hh_lk` [G·H, H], and unless bias is
 * false `bias_ih_lk`, `bias_hh_lk` [G·H], with G = 4 gates for LSTM and 3 for GRU.
 */
export type RecurrentParams = Readonly<Record<string, Tensor>>;

/**
 * An LSTM's state between calls, as PyTorch's (h_0, c_0): h and c [numLayers, B, H]
 * ([numLayers, H] for an unbatched input). A missing one is zeros.
 */
export interface LstmState {
  /** Hidden state of each layer. */
  readonly h?: Tensor;
  /** Cell state of each layer. */
  readonly c?: Tensor;
}

/** What an LSTM run returns: every top-layer hidden state and the final state of each layer. */
export interface LstmResult {
  /** [T, B, H] ([B, T, H] with batchFirst, [T, H] unbatched): the top layer's h at each step. */
  readonly output: Tensor;
  /** Each layer's h after the last step, [numLayers, B, H]. */
  readonly h: Tensor;
  /** Each layer's c after the last step, [numLayers, B, H]. */
  readonly c: Tensor;
}

/** A GRU's state between calls, as PyTorch's h_0: h [numLayers, B, H]; missing is zeros. */
export interface GruState {
  /** Hidden state of each layer. */
  readonly h?: Tensor;
}

/** What a GRU run returns: every top-layer hidden state and each layer's final one. */
export interface GruResult {
  /** [T, B, H] ([B, T, H] with batchFirst, [T, H] unbatched): the top layer's h at each step. */
  readonly output: Tensor;
  /** Each layer's h after the last step, [numLayers, B, H]. */
  readonly h: Tensor;
}

/**
 * A recurrent layer: `apply(params, x)` is the output sequence; `run(params, x, state)` also
 * takes an initial state and returns the final one, so a long sequence can be fed in pieces:
 * `let s = rnn.run(p, x1); s = rnn.run(p, x2, s);` (the result is a valid state).
 */
export interface RecurrentLayer<S, R> extends Layer<RecurrentParams, NoState> {
  /** Runs over the whole sequence x from `state` (zeros where missing). */
  run(params: RecurrentParams, x: Tensor, state?: S): R;
}

/** The hyperparameters both cells share, resolved and checked. */
interface Config {
  readonly where: string;
  readonly gates: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly batchFirst: boolean;
  readonly hasBias: boolean;
  readonly dtype: FloatDType;
  readonly remat: boolean;
}

/** One layer's weights, read from the params tree with their shapes checked. */
interface LayerWeights {
  readonly wIh: Tensor;
  readonly wHh: Tensor;
  readonly bIh?: Tensor;
  readonly bHh?: Tensor;
}

/**
 * The input as time-major [T, B, I] with what is needed to lay the output out as x was: T, B and
 * whether x was unbatched [T, I].
 */
interface Sequence {
  readonly x: Tensor;
  readonly length: number;
  readonly batch: number;
  readonly unbatched: boolean;
}

/** The most elements a tensor holds in @tapegrad/autodiff, used here as a bound on all params. */
const MAX_PARAMS = 2 ** 31 - 1;

function resolveConfig(where: string, options: RecurrentOptions, gates: number): Config {
  optionsObject(where, options);
  const config: Config = {
    where,
    gates,
    inputSize: positiveInt(where, "inputSize", options.inputSize),
    hiddenSize: positiveInt(where, "hiddenSize", options.hiddenSize),
    numLayers: positiveInt(where, "numLayers", options.numLayers ?? 1),
    batchFirst: booleanOption(where, "batchFirst", options.batchFirst ?? false),
    hasBias: booleanOption(where, "bias", options.bias ?? true),
    dtype: floatDType(where, options.dtype ?? "float32"),
    remat: booleanOption(where, "remat", options.remat ?? false),
  };
  // Checked here, before init would loop over numLayers and allocate.
  const { inputSize: i, hiddenSize: h, numLayers: n } = config;
  const perLayer = (width: number) => gates * h * (width + h + (config.hasBias ? 2 : 0));
  const total = perLayer(i) + (n - 1) * perLayer(h);
  if (total > MAX_PARAMS) {
    throw argumentError(
      where,
      `inputSize ${i}, hiddenSize ${h} and numLayers ${n} need ${total} parameters; at most ` +
        `${MAX_PARAMS} are supported`,
    );
  }
  return config;
}

/** Every param's name and shape, in PyTorch's order (which init draws them in). */
function paramShapes(config: Config): [string, number[]][] {
  const { gates, hiddenSize: h, inputSize, numLayers } = config;
  const shapes: [string, number[]][] = [];
  for (let k = 0; k < numLayers; k++) {
    const width = k === 0 ? inputSize : h;
    shapes.push([`weight_ih_l${k}`, [gates * h, width]], [`weight_hh_l${k}`, [gates * h, h]]);
    if (config.hasBias) shapes.push([`bias_ih_l${k}`, [gates * h]], [`bias_hh_l${k}`, [gates * h]]);
  }
  return shapes;
}

/** PyTorch's init for every recurrent param, weights and biases alike: U(−1/√H, 1/√H). */
function initRecurrent(config: Config) {
  const bound = 1 / Math.sqrt(config.hiddenSize);
  const draw = uniform({ low: -bound, high: bound });
  const shapes = paramShapes(config);
  return (rng: Rng) => {
    const params: Record<string, Tensor> = {};
    for (const [name, shape] of shapes) {
      params[name] = drawParam(config.where, name, draw, rng, shape, config.dtype);
    }
    return { params: params as RecurrentParams, state: {} as NoState };
  };
}

function layerWeights(config: Config, params: RecurrentParams, k: number): LayerWeights {
  const { where, gates, hiddenSize: h } = config;
  const width = k === 0 ? config.inputSize : h;
  const wIh = paramOf(where, params, `weight_ih_l${k}`, [gates * h, width]);
  const wHh = paramOf(where, params, `weight_hh_l${k}`, [gates * h, h]);
  if (!config.hasBias) return { wIh, wHh };
  const bIh = paramOf(where, params, `bias_ih_l${k}`, [gates * h]);
  const bHh = paramOf(where, params, `bias_hh_l${k}`, [gates * h]);
  return { wIh, wHh, bIh, bHh };
}

function timeMajor(config: Config, x: unknown): Sequence {
  const { where, inputSize, batchFirst } = config;
  if (!(x instanceof Tensor)) throw argumentError(where, `x must be a Tensor, got ${show(x)}`);
  if ((x.ndim !== 3 && x.ndim !== 2) || x.shape[x.ndim - 1] !== inputSize) {
    const layout = batchFirst ? `[B, T, ${inputSize}]` : `[T, B, ${inputSize}]`;
    throw shapeError(
      where,
      `x must be ${layout} or [T, ${inputSize}] (inputSize ${inputSize}), got shape ` +
        `${showShape(x.shape)}`,
    );
  }
  if (x.shape[batchFirst && x.ndim === 3 ? 1 : 0] === 0) {
    throw shapeError(
      where,
      `x must have at least one time step (as PyTorch), got shape ${showShape(x.shape)}`,
    );
  }
  if (x.ndim === 2) {
    const length = x.shape[0]!;
    return { x: reshape(x, [length, 1, inputSize]), length, batch: 1, unbatched: true };
  }
  const seq = batchFirst ? transpose(x, [1, 0, 2]) : x;
  return { x: seq, length: seq.shape[0]!, batch: seq.shape[1]!, unbatched: false };
}

/** Each layer's initial state [B, H] from `value` [numLayers, B, H] ([numLayers, H] unbatched). */
function initialStates(config: Config, seq: Sequence, name: string, value: unknown): Tensor[] {
  const { where, numLayers, hiddenSize: h } = config;
  if (value === undefined) {
    return Array.from({ length: numLayers }, () => zeros([seq.batch, h], config.dtype));
  }
  const shape = seq.unbatched ? [numLayers, h] : [numLayers, seq.batch, h];
  const ok =
    value instanceof Tensor &&
    value.ndim === shape.length &&
    value.shape.every((d, i) => d === shape[i]);
  if (!ok) {
    const got = value instanceof Tensor ? `shape ${showShape(value.shape)}` : show(value);
    throw shapeError(
      where,
      `state.${name} must be a tensor of shape ${showShape(shape)} ([numLayers, ` +
        `${seq.unbatched ? "" : "B, "}hiddenSize]), got ${got}`,
    );
  }
  const states = value as Tensor;
  return Array.from({ length: numLayers }, (_, k) =>
    reshape(slice(states, [k], [k + 1]), [seq.batch, h]),
  );
}

/** The top layer's outputs [T, B, H] laid out as x was, and the final states [L, B, H] likewise. */
function finish(config: Config, seq: Sequence, top: Tensor, finals: Tensor[][]) {
  const { hiddenSize: h, numLayers } = config;
  let output = top;
  if (seq.unbatched) output = reshape(top, [seq.length, h]);
  else if (config.batchFirst) output = transpose(top, [1, 0, 2]);
  const states = finals.map((layers) => {
    const joined = stack(layers, 0);
    return seq.unbatched ? reshape(joined, [numLayers, h]) : joined;
  });
  return { output, states };
}

/**
 * x·W_ihᵀ (+ bias) for every step at once, [T, B, G·H]: one matmul instead of T, leaving only the
 * recurrent product inside the time loop.
 */
function inputProjection(x: Tensor, w: LayerWeights, bias?: Tensor): Tensor {
  const projected = matmul(x, w.wIh, { transB: true });
  return bias === undefined ? projected : add(projected, bias);
}

/** Step t of a time-major [T, B, W] sequence, as [B, W] (a view: the rows are one run). */
function step(sequence: Tensor, t: number): Tensor {
  const [, batch, width] = sequence.shape as [number, number, number];
  return reshape(slice(sequence, [t], [t + 1]), [batch, width]);
}

/**
 * The tensors in one dtype, float64 if any is: a state or projection given in another float
 * dtype than the weights is promoted, as add and mul would promote it.
 */
function promoted(...ts: Tensor[]): Tensor[] {
  const dtype = ts.some((t) => t.dtype === "float64") ? "float64" : ts[0]!.dtype;
  return ts.map((t) => (t.dtype === dtype ? t : cast(t, dtype)));
}

function recurrentLayer<S, R>(
  config: Config,
  run: (params: RecurrentParams, x: Tensor, state?: S) => R & { readonly output: Tensor },
): RecurrentLayer<S, R> {
  const layer = defineLayer<RecurrentParams, NoState>({
    kind: config.where,
    init: initRecurrent(config),
    applyWithState: (params, state, x) => [run(params, x).output, state],
  });
  return { ...layer, run };
}

function stateObject(where: string, state: unknown): Record<string, unknown> {
  if (state === undefined) return {};
  if (typeof state !== "object" || state === null || Array.isArray(state)) {
    throw argumentError(where, `state must be an object such as { h, c }, got ${show(state)}`);
  }
  return state as Record<string, unknown>;
}

/** One LSTM step: the gates from the projected input xs and h, then the fused cell. */
function lstmStep(xs: Tensor, hidden: Tensor, cell: Tensor, wHh: Tensor): [Tensor, Tensor] {
  const gates = add(xs, matmul(hidden, wHh, { transB: true }));
  const [g, c] = promoted(gates, cell);
  const [h, cNext] = lstmCell(g!, c!);
  return [h, cNext];
}

/** One GRU step from the projected input xs (with b_ih) and h. */
function gruStep(xs: Tensor, hidden: Tensor, w: { wHh: Tensor; bHh?: Tensor }): Tensor {
  // b_hn must stay inside r∘(…), so b_hh is added here rather than folded into b_ih.
  const product = matmul(hidden, w.wHh, { transB: true });
  const hs = w.bHh === undefined ? product : add(product, w.bHh);
  const [x, r, h] = promoted(xs, hs, hidden);
  return gruCell(x!, r!, h!)[0];
}

/**
 * Long short-term memory (torch.nn.LSTM), gates in PyTorch's order i, f, g, o:
 * [i f g o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh; i, f, o = σ(·), g = tanh(·);
 * c′ = f∘c + i∘g, h′ = o∘tanh(c′) (autodiff's fused lstmCell). Input [T, B, I] ([B, T, I] with
 * batchFirst, or [T, I]); `apply` returns the top layer's h at every step; `run` also takes and
 * returns { h, c }. The time loop runs over the tape, so gradients flow back through every step
 * (BPTT).
 */
export function lstm(options: RecurrentOptions): RecurrentLayer<LstmState, LstmResult> {
  const config = resolveConfig("lstm", options, 4);
  const advance = config.remat ? checkpoint(lstmStep) : lstmStep;
  const run = (params: RecurrentParams, x: Tensor, state?: LstmState): LstmResult => {
    const seq = timeMajor(config, x);
    const given = stateObject(config.where, state);
    const h0 = initialStates(config, seq, "h", given.h);
    const c0 = initialStates(config, seq, "c", given.c);
    let input = seq.x;
    const finalH: Tensor[] = [];
    const finalC: Tensor[] = [];
    for (let k = 0; k < config.numLayers; k++) {
      const w = layerWeights(config, params, k);
      // Both biases are added once to the projected inputs; the sum is the same per step.
      const bias = w.bIh === undefined ? undefined : add(w.bIh, w.bHh!);
      const projected = inputProjection(input, w, bias);
      let hidden = h0[k]!;
      let cell = c0[k]!;
      const outputs: Tensor[] = [];
      for (let t = 0; t < seq.length; t++) {
        [hidden, cell] = advance(step(projected, t), hidden, cell, w.wHh);
        outputs.push(hidden);
      }
      finalH.push(hidden);
      finalC.push(cell);
      input = stack(outputs, 0);
    }
    const { output, states } = finish(config, seq, input, [finalH, finalC]);
    return { output, h: states[0]!, c: states[1]! };
  };
  return recurrentLayer(config, run);
}

/**
 * Gated recurrent unit (torch.nn.GRU), gates in PyTorch's order r, z, n:
 * r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
 * n = tanh(W_in x + b_in + r∘(W_hn h + b_hn)), h′ = (1 − z)∘n + z∘h. Input and output as lstm;
 * `run` takes and returns { h }. Gradients flow back through every step (BPTT).
 */
export function gru(options: RecurrentOptions): RecurrentLayer<GruState, GruResult> {
  const config = resolveConfig("gru", options, 3);
  const advance = config.remat ? checkpoint(gruStep) : gruStep;
  const run = (params: RecurrentParams, x: Tensor, state?: GruState): GruResult => {
    const seq = timeMajor(config, x);
    const h0 = initialStates(config, seq, "h", stateObject(config.where, state).h);
    let input = seq.x;
    const finalH: Tensor[] = [];
    for (let k = 0; k < config.numLayers; k++) {
      const w = layerWeights(config, params, k);
      const projected = inputProjection(input, w, w.bIh);
      let hidden = h0[k]!;
      const outputs: Tensor[] = [];
      const recurrent = w.bHh === undefined ? { wHh: w.wHh } : { wHh: w.wHh, bHh: w.bHh };
      for (let t = 0; t < seq.length; t++) {
        hidden = advance(step(projected, t), hidden, recurrent);
        outputs.push(hidden);
      }
      finalH.push(hidden);
      input = stack(outputs, 0);
    }
    const { output, states } = finish(config, seq, input, [finalH]);
    return { output, h: states[0]! };
  };
  return recurrentLayer(config, run);
}
