import { argumentError } from "./errors.js";

/** Which positional arguments a transform differentiates: one index, or a list of them. */
export type Argnums = number | readonly number[];

/**
 * The arguments `I` selects from `Args`, which is also the structure of their gradients: one
 * argument's type for a number, a tuple of them for a list.
 */
export type Selected<Args extends readonly unknown[], I> = I extends readonly number[]
  ? { [K in keyof I]: Args[I[K] & number] }
  : Args[I & number];

/** `argnums` as a list, each an index of one of `count` arguments; else an error naming `fn`. */
export function argnumList(fn: string, argnums: Argnums, count: number): number[] {
  const list = typeof argnums === "number" ? [argnums] : Array.from(argnums);
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw argumentError(fn, `argnums ${i} is out of range for ${count} arguments`);
    }
  }
  return list;
}
