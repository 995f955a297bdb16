// The main entry names fast-check's types without importing fast-check, an optional peer: a
// program that loads `@tapegrad/autodiff/testing` (which needs fast-check) sees these interfaces
// completed as fast-check's own (testing/fastCheckTypes.ts); any other program never needs them.

/**
 * A generator of samples, as an op's `samples` function returns it: fast-check's `Arbitrary<T>`
 * wherever `@tapegrad/autodiff/testing` is part of the program.
 */
export interface SampleArbitrary<T> {
  /** The type of the values generated (for type inference only; never set). */
  readonly sampleType?: T;
}

/**
 * The fast-check module a sample kit hands to `samples` functions (`kit.fc`): fast-check's own
 * wherever `@tapegrad/autodiff/testing` is part of the program.
 */
export interface FastCheckModule {
  /** Marks the interface as fast-check's module (for type inference only; never set). */
  readonly fastCheckModule?: true;
}
