// The baseline: the next character depends on the previous one alone, with probabilities
// counted from the training words and smoothed by adding k to every count.
import { argumentError, show } from "@tapegrad/autodiff";
import type { WordExample } from "./corpus.js";

/** A bigram model over V tokens: logProbs[a·V + b] = log p(b | a). */
export interface BigramModel {
  readonly vocabSize: number;
  /** The add-k smoothing it was built with. */
  readonly k: number;
  readonly logProbs: Float64Array;
}

/** counts[a·V + b]: how often b follows a in the examples (input[t] → target[t]). */
export function bigramCounts(examples: readonly WordExample[], vocabSize: number): Float64Array {
  const counts = new Float64Array(vocabSize * vocabSize);
  for (const { input, target } of examples) {
    for (let t = 0; t < input.length; t++) counts[input[t]! * vocabSize + target[t]!]! += 1;
  }
  return counts;
}

/**
 * Add-k smoothing: p(b | a) = (n(a, b) + k) / (n(a) + k·V), so a pair never seen in training
 * keeps a small probability (k = 1 is Laplace's add-one).
 */
export function bigramModel(counts: Float64Array, vocabSize: number, k: number): BigramModel {
  if (typeof k !== "number" || !(k > 0) || !Number.isFinite(k)) {
    throw argumentError("bigramModel", `k must be a finite number > 0, got ${show(k)}`);
  }
  if (counts.length !== vocabSize * vocabSize) {
    throw argumentError(
      "bigramModel",
      `counts must hold V·V = ${vocabSize * vocabSize} entries for V = ${vocabSize}, got ` +
        `${counts.length}`,
    );
  }
  const logProbs = new Float64Array(counts.length);
  for (let a = 0; a < vocabSize; a++) {
    let total = 0;
    for (let b = 0; b < vocabSize; b++) total += counts[a * vocabSize + b]!;
    for (let b = 0; b < vocabSize; b++) {
      const i = a * vocabSize + b;
      logProbs[i] = Math.log((counts[i]! + k) / (total + k * vocabSize));
    }
  }
  return { vocabSize, k, logProbs };
}

/** Mean −log p(target | input) over every predicted character of the examples, in nats. */
export function bigramNats(model: BigramModel, examples: readonly WordExample[]): number {
  let total = 0;
  let count = 0;
  for (const { input, target } of examples) {
    for (let t = 0; t < input.length; t++) {
      total -= model.logProbs[input[t]! * model.vocabSize + target[t]!]!;
      count++;
    }
  }
  if (count === 0) throw argumentError("bigramNats", "examples must not be empty");
  return total / count;
}

/** The smoothings tried: from add-one down to almost none. */
export const SMOOTHINGS = [1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01] as const;

/** The fitted baseline: the model with the k that did best on validation, and every k's result. */
export interface BigramFit {
  readonly model: BigramModel;
  /** Validation nats per character of the chosen model. */
  readonly nats: number;
  /** Validation nats per character for each k tried. */
  readonly byK: readonly { readonly k: number; readonly nats: number }[];
}

/** Counts the training examples once and keeps the smoothing k with the lowest validation loss. */
export function fitBigram(
  train: readonly WordExample[],
  validation: readonly WordExample[],
  vocabSize: number,
  smoothings: readonly number[] = SMOOTHINGS,
): BigramFit {
  if (smoothings.length === 0) throw argumentError("fitBigram", "smoothings must not be empty");
  const counts = bigramCounts(train, vocabSize);
  const models = smoothings.map((k) => bigramModel(counts, vocabSize, k));
  const byK = models.map((model) => ({ k: model.k, nats: bigramNats(model, validation) }));
  let best = 0;
  byK.forEach((r, i) => {
    if (r.nats < byK[best]!.nats) best = i;
  });
  return { model: models[best]!, nats: byK[best]!.nats, byK };
}
