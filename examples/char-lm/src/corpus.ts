// The corpus: a list of words, each modelled as its letters followed by "\n". A word is read
// from the word start, which is "\n" (the end of the word before), so every model predicts the
// same characters: each letter of the word and the closing "\n".
import { argumentError, prng, show } from "@tapegrad/autodiff";
import { charTokenizer, type CharTokenizer } from "@tapegrad/data";

/** Debian's `wamerican` word list, one word a line. */
export const WORD_LIST = "/usr/share/dict/american-english";

/** The end of every word, and the context the first letter is predicted from. */
export const END = "\n";

/** The 27 tokens: "\n" (id 0) and a–z (ids 1–26). */
export const ALPHABET = END + "abcdefghijklmnopqrstuvwxyz";

/** The words kept: lowercase a–z only (no capitals, apostrophes or accents). */
const WORD = /^[a-z]+$/;

/**
 * The distinct lines of `text` that are words of lowercase a–z letters, in their order. Proper
 * nouns, possessives ("abbey's") and accented words are dropped, not rewritten, so no word
 * appears twice ("abbey's" would otherwise become a second "abbeys").
 */
export function parseWords(text: string): string[] {
  if (typeof text !== "string") {
    throw argumentError("parseWords", `text must be a string, got ${show(text)}`);
  }
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  return [...new Set(lines.filter((line) => WORD.test(line)))];
}

/** Training and validation words, disjoint. */
export interface WordSplit {
  readonly train: readonly string[];
  readonly validation: readonly string[];
}

/**
 * The words shuffled by a permutation drawn from prng(seed), the first `validationFraction` of
 * them (rounded, at least one) for validation and the rest for training.
 */
export function splitWords(
  words: readonly string[],
  options: { readonly seed?: number; readonly validationFraction?: number } = {},
): WordSplit {
  const fn = "splitWords";
  const { seed = 0, validationFraction = 0.1 } = options;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw argumentError(
      fn,
      `validationFraction must be a number in (0, 1), got ${show(validationFraction)}`,
    );
  }
  if (words.length < 2) {
    throw argumentError(fn, `words must hold at least 2 words to split, got ${words.length}`);
  }
  const order = prng(seed).permutation(words.length).data;
  const shuffled = Array.from(order, (i) => words[i]!);
  const count = Math.min(
    words.length - 1,
    Math.max(1, Math.round(validationFraction * words.length)),
  );
  return { train: shuffled.slice(count), validation: shuffled.slice(0, count) };
}

/** The tokenizer of ALPHABET: "\n" is id 0, a–z are 1–26, anything else is an error. */
export function wordTokenizer(): CharTokenizer {
  return charTokenizer(ALPHABET);
}

/** One word as a next-character example: input "\n" + word, target word + "\n" (same length). */
export interface WordExample {
  readonly input: Int32Array;
  readonly target: Int32Array;
}

/** The example of each word; a character outside the alphabet is an error naming the word. */
export function wordExamples(words: readonly string[], tokenizer: CharTokenizer): WordExample[] {
  return words.map((word, i) => {
    if (typeof word !== "string" || word.length === 0 || word.includes(END)) {
      throw argumentError(
        "wordExamples",
        `words[${i}] must be a non-empty string without "\\n", got ${show(word)}`,
      );
    }
    const unknown = [...word].find((c) => !tokenizer.vocabulary.includes(c));
    if (unknown !== undefined) {
      throw argumentError(
        "wordExamples",
        `words[${i}] = ${JSON.stringify(word)} has ${JSON.stringify(unknown)}, which is not in ` +
          `the vocabulary ${JSON.stringify(tokenizer.vocabulary.join(""))}`,
      );
    }
    const ids = tokenizer.encode(END + word + END);
    return { input: ids.subarray(0, ids.length - 1), target: ids.subarray(1) };
  });
}

/** The number of characters predicted over `words`: each word's letters and its "\n". */
export function predictedCharacters(words: readonly string[]): number {
  return words.reduce((n, word) => n + word.length + 1, 0);
}
