import { show, type Tensor } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import { idValues } from "./ids.js";

/** Options of charTokenizer. */
export interface CharTokenizerOptions {
  /** A token for characters outside the vocabulary (e.g. "<unk>"); without it they are errors. */
  readonly unknown?: string;
}

/** A character-level tokenizer: one id per Unicode code point of its vocabulary. */
export interface CharTokenizer {
  /** Token strings by id: the sorted characters, then the unknown token if one was given. */
  readonly vocabulary: readonly string[];
  /** Number of tokens, vocabulary.length: the number of classes a model predicts. */
  readonly size: number;
  /** Id of the unknown token, or undefined without one. */
  readonly unknownId: number | undefined;
  /** The ids of the characters of `text`, one per code point; `tensor(ids)` makes an int32 tensor. */
  encode(text: string): Int32Array;
  /** The text of `ids` (an array, Int32Array or 1-D int32 tensor): their tokens joined. */
  decode(ids: ArrayLike<number> | Tensor): string;
}

/**
 * The tokenizer of `text`'s characters: the vocabulary is its distinct code points sorted by
 * code point (not UTF-16 unit, so astral characters such as emoji are single tokens), with the
 * unknown token appended after them (ids of characters do not depend on it; a single character
 * already in the text is reused). `encode` returns an Int32Array, the input textWindows takes.
 */
export function charTokenizer(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
  const fn = "charTokenizer";
  if (typeof text !== "string") throw argumentError(fn, `text must be a string, got ${show(text)}`);
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(
      fn,
      `options must be an object such as { unknown: "?" }, got ${show(options)}`,
    );
  }
  const { unknown } = options;
  if (unknown !== undefined && (typeof unknown !== "string" || unknown === "")) {
    throw argumentError(fn, `unknown must be a non-empty string, got ${show(unknown)}`);
  }

  const characters = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const ids = new Map(characters.map((c, id) => [c, id]));
  let unknownId: number | undefined;
  if (unknown !== undefined) {
    unknownId = ids.get(unknown) ?? characters.length;
    if (unknownId === characters.length) characters.push(unknown);
  }
  const vocabulary: readonly string[] = Object.freeze(characters);
  const size = vocabulary.length;

  return {
    vocabulary,
    size,
    unknownId,
    encode(s) {
      if (typeof s !== "string") {
        throw argumentError(`${fn}.encode`, `text must be a string, got ${show(s)}`);
      }
      const out: number[] = [];
      for (const c of s) {
        const id = ids.get(c) ?? unknownId;
        if (id === undefined) {
          throw argumentError(
            `${fn}.encode`,
            `text[${out.length}] = ${JSON.stringify(c)} (${codePoint(c)}) is not in the ` +
              `vocabulary of ${size} characters; give { unknown } to map such characters to a token`,
          );
        }
        out.push(id);
      }
      return Int32Array.from(out);
    },
    decode(input) {
      const values = idValues(`${fn}.decode`, "ids", input);
      let result = "";
      for (let i = 0; i < values.length; i++) {
        const id = values[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= size) {
          throw argumentError(
            `${fn}.decode`,
            `ids[${i}] = ${show(id)} is not a token id; expected an integer 0 ≤ id < ${size}`,
          );
        }
        result += vocabulary[id]!;
      }
      return result;
    },
  };
}

/** U+1F600: how a character is named in messages, so invisible ones can be told apart. */
function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}
