import { tensor, TapegradError } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { charTokenizer } from "./charTokenizer.js";

describe("charTokenizer", () => {
  it("sorts the distinct characters by code point and round-trips text", () => {
    const tok = charTokenizer("hello world");
    // " " (U+0020) < "d" < "e" < "h" < "l" < "o" < "r" < "w", by hand from the text.
    expect(tok.vocabulary).toEqual([" ", "d", "e", "h", "l", "o", "r", "w"]);
    expect(tok.size).toBe(8);
    expect(tok.unknownId).toBeUndefined();
    const ids = tok.encode("hello");
    expect(ids).toBeInstanceOf(Int32Array);
    expect(Array.from(ids)).toEqual([3, 2, 4, 4, 5]);
    expect(tok.decode(ids)).toBe("hello");
    expect(tok.decode([7, 5, 6, 4, 1])).toBe("world");
    expect(tok.decode(tensor(ids))).toBe("hello");
    expect(charTokenizer("hello world").vocabulary).toEqual(tok.vocabulary);
  });

  it("treats astral-plane characters as one token each, ordered by code point", () => {
    // U+1F600 😀 is the UTF-16 pair D83D DE00, so sorting by UTF-16 unit would put it before
    // U+FF01 ！ (unit FF01); by code point it comes after.
    const text = "a😀！😀";
    const tok = charTokenizer(text);
    expect(tok.vocabulary).toEqual(["a", "！", "😀"]);
    expect(Array.from(tok.encode(text))).toEqual([0, 2, 1, 2]);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it("maps characters outside the vocabulary to an unknown token appended last", () => {
    const tok = charTokenizer("abc", { unknown: "<unk>" });
    expect(tok.vocabulary).toEqual(["a", "b", "c", "<unk>"]);
    expect(tok.size).toBe(4);
    expect(tok.unknownId).toBe(3);
    expect(Array.from(tok.encode("cab!"))).toEqual([2, 0, 1, 3]);
    expect(tok.decode([2, 3])).toBe("c<unk>");
    // An unknown token that is one of the text's characters keeps that character's id.
    const reused = charTokenizer("a?b", { unknown: "?" });
    expect(reused.vocabulary).toEqual(["?", "a", "b"]);
    expect(Array.from(reused.encode("az"))).toEqual([1, 0]);
  });

  it("names an unknown character and its position (in characters, not UTF-16 units)", () => {
    const tok = charTokenizer("abc");
    let error: unknown;
    try {
      tok.encode("a😀bz");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TapegradError);
    expect((error as TapegradError).code).toBe("INVALID_ARGUMENT");
    expect(() => tok.encode("a😀bz")).toThrow(
      'charTokenizer.encode: text[1] = "😀" (U+1F600) is not in the vocabulary of 3 characters; ' +
        "give { unknown } to map such characters to a token",
    );
    expect(() => tok.encode("abz")).toThrow(/text\[2\] = "z" \(U\+007A\)/);
  });

  it("names bad arguments and ids", () => {
    const tok = charTokenizer("abc");
    expect(() => charTokenizer(42 as never)).toThrow(
      "charTokenizer: text must be a string, got 42",
    );
    expect(() => charTokenizer("abc", { unknown: "" })).toThrow(
      'charTokenizer: unknown must be a non-empty string, got ""',
    );
    expect(() => tok.decode([0, 3])).toThrow(
      "charTokenizer.decode: ids[1] = 3 is not a token id; expected an integer 0 ≤ id < 3",
    );
    expect(() => tok.decode([1.5])).toThrow(/ids\[0\] = 1.5 is not a token id/);
    expect(() => tok.decode(tensor([0, 1]))).toThrow(
      expect.objectContaining({
        code: "DTYPE_MISMATCH",
        message: "charTokenizer.decode: ids must hold int32 token ids, got float32",
      }),
    );
    expect(() => tok.decode(tensor([[0]], { dtype: "int32" }))).toThrow(
      "charTokenizer.decode: ids must be 1-D, got a tensor of shape [1,1]",
    );
    expect(() => tok.decode("ab" as never)).toThrow(
      "charTokenizer.decode: ids must be an array, an Int32Array or a 1-D int32 tensor, got ab",
    );
  });
});
