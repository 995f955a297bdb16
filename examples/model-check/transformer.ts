// A one-block causal transformer over characters, written from tapegrad's ops and nn's layers:
// token and position embeddings, four-head self-attention with a causal mask, a GELU MLP, layer
// norms before each, and a linear head scored by cross-entropy on the next character. It is the
// model the gradient checks in check.ts run on: 52,684 params in a tree of 24 tensors.
import {
  add,
  gather,
  matmul,
  mul,
  prng,
  reshape,
  slice,
  softmax,
  tensor,
  transpose,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  crossEntropy,
  gelu,
  layerNorm,
  linear,
  type LayerNormParams,
  type LinearParams,
} from "@tapegrad/nn";

/** The characters the model reads: a–z, space and full stop. */
export const ALPHABET = "abcdefghijklmnopqrstuvwxyz .";

const WIDTH = 64;
const HEADS = 4;
const HIDDEN = 240;
/** Characters of context each prediction sees. */
export const CONTEXT = 16;

const dtype = "float64";
const layers = {
  norm1: layerNorm({ normalizedShape: WIDTH, dtype }),
  query: linear({ inFeatures: WIDTH, outFeatures: WIDTH, dtype }),
  key: linear({ inFeatures: WIDTH, outFeatures: WIDTH, dtype }),
  value: linear({ inFeatures: WIDTH, outFeatures: WIDTH, dtype }),
  out: linear({ inFeatures: WIDTH, outFeatures: WIDTH, dtype }),
  norm2: layerNorm({ normalizedShape: WIDTH, dtype }),
  up: linear({ inFeatures: WIDTH, outFeatures: HIDDEN, dtype }),
  down: linear({ inFeatures: HIDDEN, outFeatures: WIDTH, dtype }),
  norm: layerNorm({ normalizedShape: WIDTH, dtype }),
  head: linear({ inFeatures: WIDTH, outFeatures: ALPHABET.length, dtype }),
};
const activation = gelu();

/** The model's params: a plain tree of float64 tensors. */
export interface TransformerParams {
  readonly embed: Tensor;
  readonly position: Tensor;
  readonly attention: {
    readonly norm: LayerNormParams;
    readonly query: LinearParams;
    readonly key: LinearParams;
    readonly value: LinearParams;
    readonly out: LinearParams;
  };
  readonly mlp: {
    readonly norm: LayerNormParams;
    readonly up: LinearParams;
    readonly down: LinearParams;
  };
  readonly norm: LayerNormParams;
  readonly head: LinearParams;
}

/** Fresh params drawn from `seed`; the layer norms start at weight 1, bias 0, as in PyTorch. */
export function initTransformer(seed: number): TransformerParams {
  const rng = prng(seed);
  return {
    embed: mul(rng.normal([ALPHABET.length, WIDTH], { dtype }), 0.5),
    position: mul(rng.normal([CONTEXT, WIDTH], { dtype }), 0.1),
    attention: {
      norm: layers.norm1.init(rng).params,
      query: layers.query.init(rng).params,
      key: layers.key.init(rng).params,
      value: layers.value.init(rng).params,
      out: layers.out.init(rng).params,
    },
    mlp: {
      norm: layers.norm2.init(rng).params,
      up: layers.up.init(rng).params,
      down: layers.down.init(rng).params,
    },
    norm: layers.norm.init(rng).params,
    head: layers.head.init(rng).params,
  };
}

// Position i attends to positions 0…i: −Infinity above the diagonal, 0 on and below it.
const causalMask = tensor(
  Array.from({ length: CONTEXT * CONTEXT }, (_, k) =>
    k % CONTEXT > Math.floor(k / CONTEXT) ? -Infinity : 0,
  ),
  { shape: [CONTEXT, CONTEXT], dtype },
);

/** [B, T, WIDTH] ↔ [B, HEADS, T, WIDTH / HEADS]. */
const splitHeads = (x: Tensor) =>
  transpose(reshape(x, [x.shape[0]!, CONTEXT, HEADS, WIDTH / HEADS]), [0, 2, 1, 3]);
const mergeHeads = (x: Tensor) =>
  reshape(transpose(x, [0, 2, 1, 3]), [x.shape[0]!, CONTEXT, WIDTH]);

function attention(p: TransformerParams["attention"], x: Tensor): Tensor {
  const h = layers.norm1.apply(p.norm, x);
  const q = splitHeads(layers.query.apply(p.query, h));
  const k = splitHeads(layers.key.apply(p.key, h));
  const v = splitHeads(layers.value.apply(p.value, h));
  const scores = add(mul(matmul(q, k, { transB: true }), 1 / Math.sqrt(WIDTH / HEADS)), causalMask);
  const mixed = matmul(softmax(scores, -1), v);
  return layers.out.apply(p.out, mergeHeads(mixed));
}

function mlp(p: TransformerParams["mlp"], x: Tensor): Tensor {
  const h = layers.norm2.apply(p.norm, x);
  return layers.down.apply(p.down, activation.apply({}, layers.up.apply(p.up, h)));
}

/** Next-character logits [B, T, |ALPHABET|] for int32 tokens [B, T]. */
export function transformer(p: TransformerParams, tokens: Tensor): Tensor {
  let x = add(gather(p.embed, tokens), p.position);
  x = add(x, attention(p.attention, x));
  x = add(x, mlp(p.mlp, x));
  return layers.head.apply(p.head, layers.norm.apply(p.norm, x));
}

/** Mean cross-entropy of each next character given the ones before, for tokens [B, T + 1]. */
export function loss(p: TransformerParams, tokens: Tensor): Tensor {
  const [batch] = tokens.shape as [number, number];
  const inputs = slice(tokens, [0, 0], [batch, CONTEXT]);
  const targets = reshape(slice(tokens, [0, 1]), [batch * CONTEXT]);
  const logits = transformer(p, inputs);
  return crossEntropy(reshape(logits, [batch * CONTEXT, ALPHABET.length]), targets);
}

/** `count` windows of CONTEXT + 1 characters of `text`, as int32 tokens [count, CONTEXT + 1]. */
export function windows(text: string, count: number): Tensor {
  const codes = Array.from(text, (ch) => {
    const code = ALPHABET.indexOf(ch);
    if (code < 0) throw new Error(`windows: "${ch}" is not in the alphabet`);
    return code;
  });
  const stride = Math.floor((codes.length - CONTEXT - 1) / Math.max(1, count - 1));
  const rows = Array.from({ length: count }, (_, i) =>
    codes.slice(i * stride, i * stride + CONTEXT + 1),
  );
  return tensor(rows, { dtype: "int32" });
}

/** A few sentences for a batch; any text in the alphabet will do. */
export const TEXT =
  "the gradient of a loss is the sum over every path from a parameter to the loss. " +
  "a tape records each op as it runs and walks them backwards. each op knows its own rule. " +
  "a check compares the rules with finite differences and names the op that is wrong.";
