import { expect } from "vitest";
import { TapegradError } from "../src/index.js";

/** Asserts `fn` throws a TapegradError with `code` whose message matches `message`. */
export function expectTapegradError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an error").toBeInstanceOf(TapegradError);
  expect((caught as TapegradError).code).toBe(code);
  expect((caught as TapegradError).message).toMatch(message);
}
