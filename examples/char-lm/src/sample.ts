// Sampling words one character at a time: the model reads "\n" + the letters so far, its last
// logits are divided by the temperature and cut to the k most likely characters, and one of
// those is drawn; a word ends at "\n" or at the model's context.
import {
  Tensor,
  argumentError,
  categorical,
  div,
  foldIn,
  reshape,
  show,
  showShape,
  slice,
  tensor,
  topk,
} from "@tapegrad/autodiff";
import type { CharTokenizer } from "@tapegrad/data";
import { END } from "./corpus.js";
import type { CharModel } from "./models.js";

/** Options of sampleWords: the key is required, the rest have defaults. */
export interface SampleOptions {
  /** An int32 key [2] from randomKey(seed): the same key gives the same words. */
  readonly key: Tensor;
  /** Words to draw (default 10). */
  readonly count?: number;
  /** Logits are divided by it: below 1 sharpens, above 1 flattens (default 1). */
  readonly temperature?: number;
  /** Draw only among the k most likely characters (default: all of them). */
  readonly topK?: number;
}

/**
 * `count` words drawn from the model, all at once as the rows of a batch: at step t each row's
 * next character is drawn by `categorical` with key foldIn(key, t) from the top-k logits ÷
 * temperature. Words end at "\n" (not included) or after model.context letters.
 */
export function sampleWords(
  model: CharModel,
  params: unknown,
  tokenizer: CharTokenizer,
  options: SampleOptions,
): string[] {
  const fn = "sampleWords";
  const { key, count = 10, temperature = 1, topK = model.vocabSize } = options;
  if (!(key instanceof Tensor) || key.dtype !== "int32" || key.ndim !== 1 || key.shape[0] !== 2) {
    const got = key instanceof Tensor ? `${key.dtype} ${showShape(key.shape)}` : show(key);
    throw argumentError(fn, `key must be an int32 key [2] from randomKey(seed), got ${got}`);
  }
  if (!Number.isInteger(count) || count < 1) {
    throw argumentError(fn, `count must be a positive integer, got ${show(count)}`);
  }
  if (typeof temperature !== "number" || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw argumentError(fn, `temperature must be a finite number > 0, got ${show(temperature)}`);
  }
  if (!Number.isInteger(topK) || topK < 1 || topK > model.vocabSize) {
    throw argumentError(
      fn,
      `topK must be an integer in [1, ${model.vocabSize}] (the vocabulary), got ${show(topK)}`,
    );
  }
  if (tokenizer.size !== model.vocabSize) {
    throw argumentError(
      fn,
      `the tokenizer has ${tokenizer.size} tokens but the model predicts ${model.vocabSize}`,
    );
  }
  const end = tokenizer.encode(END)[0]!;
  const rows = Array.from({ length: count }, () => [end]);
  const done = new Array<boolean>(count).fill(false);
  for (let t = 0; t < model.context && !done.every(Boolean); t++) {
    const ids = tensor(rows.flat(), { shape: [count, t + 1], dtype: "int32" });
    const logits = model.layer.apply(params, ids);
    const last = reshape(slice(logits, [0, t, 0], [count, t + 1, model.vocabSize]), [
      count,
      model.vocabSize,
    ]);
    const [values, indices] = topk(div(last, temperature), topK);
    const choice = categorical(foldIn(key, t), values).data;
    const candidates = indices.data;
    rows.forEach((row, b) => {
      const next = done[b] ? end : candidates[b * topK + choice[b]!]!;
      if (next === end) done[b] = true;
      row.push(next);
    });
  }
  return rows.map((row) => tokenizer.decode(row.slice(1)).split(END)[0]!);
}
