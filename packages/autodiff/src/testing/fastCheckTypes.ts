import type * as FastCheck from "fast-check";

// Completes the main entry's stand-ins for fast-check's types (sampleTypes.ts) with fast-check's
// own, in every program that loads the testing entry.

type FastCheckNamespace = typeof FastCheck;

declare module "../sampleTypes.js" {
  interface SampleArbitrary<T> extends FastCheck.Arbitrary<T> {}
  interface FastCheckModule extends FastCheckNamespace {}
}
