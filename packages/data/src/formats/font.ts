/**
 * A 3×5 bitmap font for captions: digits, capital letters and - / . ? and space. Each glyph is
 * five rows of three cells, top to bottom, "#" for ink. Lower case is drawn as upper case.
 */
const GLYPHS: Readonly<Record<string, string>> = {
  "0": "### #.# #.# #.# ###",
  "1": ".#. ##. .#. .#. ###",
  "2": "##. ..# .#. #.. ###",
  "3": "##. ..# .#. ..# ##.",
  "4": "#.# #.# ### ..# ..#",
  "5": "### #.. ##. ..# ##.",
  "6": ".## #.. ### #.# ###",
  "7": "### ..# .#. .#. .#.",
  "8": "### #.# ### #.# ###",
  "9": "### #.# ### ..# ##.",
  A: ".#. #.# ### #.# #.#",
  B: "##. #.# ##. #.# ##.",
  C: ".## #.. #.. #.. .##",
  D: "##. #.# #.# #.# ##.",
  E: "### #.. ##. #.. ###",
  F: "### #.. ##. #.. #..",
  G: ".## #.. #.# #.# .##",
  H: "#.# #.# ### #.# #.#",
  I: "### .#. .#. .#. ###",
  J: "..# ..# ..# #.# .#.",
  K: "#.# #.# ##. #.# #.#",
  L: "#.. #.. #.. #.. ###",
  M: "#.# ### ### #.# #.#",
  N: "##. #.# #.# #.# #.#",
  O: ".#. #.# #.# #.# .#.",
  P: "##. #.# ##. #.. #..",
  Q: ".#. #.# #.# ##. .##",
  R: "##. #.# ##. #.# #.#",
  S: ".## #.. .#. ..# ##.",
  T: "### .#. .#. .#. .#.",
  U: "#.# #.# #.# #.# ###",
  V: "#.# #.# #.# #.# .#.",
  W: "#.# #.# ### ### #.#",
  X: "#.# #.# .#. #.# #.#",
  Y: "#.# #.# .#. .#. .#.",
  Z: "### ..# .#. #.. ###",
  "-": "... ... ### ... ...",
  "/": "..# ..# .#. #.. #..",
  ".": "... ... ... ... .#.",
  "?": "##. ..# .#. ... .#.",
  " ": "... ... ... ... ...",
};

export const GLYPH_WIDTH = 3;
export const GLYPH_HEIGHT = 5;
/** Horizontal distance between the left edges of neighbouring characters. */
export const GLYPH_ADVANCE = GLYPH_WIDTH + 1;

/** Whether cell (row, col) of `char`'s glyph is ink; unknown characters draw as "?". */
export function glyphInk(char: string, row: number, col: number): boolean {
  const glyph = GLYPHS[char.toUpperCase()] ?? GLYPHS["?"]!;
  return glyph[row * (GLYPH_WIDTH + 1) + col] === "#";
}
