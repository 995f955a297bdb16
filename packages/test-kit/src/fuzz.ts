import * as fc from "fast-check";
import { TapegradError, Tensor, tensor, type DType } from "@tapegrad/autodiff";

// Shared by the API-boundary fuzz suites of autodiff, nn and data: arbitraries of awkward
// tensors and attribute values, and the rule every call must obey (a well-formed Tensor or a
// TapegradError).

/** Largest element count of a generated tensor: small, so thousands of calls stay fast. */
export const MAX_FUZZ_SIZE = 256;

/** Attr and option names the ops and layers read; generated objects pick from these. */
export const KNOWN_ATTRS = [
  "axis",
  "keepdims",
  "shape",
  "perm",
  "begin",
  "end",
  "paddings",
  "value",
  "dtype",
  "numClasses",
  "transA",
  "transB",
  "kernelSize",
  "stride",
  "padding",
  "dilation",
  "ceilMode",
  "countIncludePad",
  "inputShape",
  "filterShape",
  "groups",
  "alpha",
  "bias",
  "outputPadding",
  "size",
  "scaleFactor",
  "mode",
  "alignCorners",
  "correction",
  "k",
  "ord",
] as const;

/** Numbers that break naive validation: huge, non-finite, fractional, negative, zero. */
const awkwardNumber = fc.constantFrom(
  0,
  -0,
  -1,
  -7,
  0.5,
  2.5,
  -1.5,
  2 ** 31,
  2 ** 32,
  -(2 ** 31),
  2 ** 53,
  1e15,
  1e308,
  Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
);

const leaf = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 6 }) },
  { weight: 3, arbitrary: awkwardNumber },
  { weight: 1, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, true, false) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "same", "valid", "float32", "float64", "int32", "2", "x"),
  },
  { weight: 1, arbitrary: fc.constantFrom({}, { length: 2 }, () => 1, Symbol("s")) },
);

/** An attribute value: a scalar of any type, or (nested) arrays of them (shapes, pairs, …). */
export const weird: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 5 }) },
  ),
})).value;

/** Values that often pass validation: small counts, pairs, booleans, padding modes. */
export const typical: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -1, max: 3 }),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
  fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 4 }),
  fc.boolean(),
  fc.constantFrom(undefined, "same", "valid", "float32", "float64", "int32"),
);

/**
 * An object holding a few of `keys`, each with a `weird` value (or a `typical` one, or now and
 * then a plain tensor).
 */
export function optionsOf(keys: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const value = fc.oneof(
    { weight: 4, arbitrary: weird },
    { weight: 3, arbitrary: typical },
    { weight: 1, arbitrary: tensorOf() },
  );
  return fc
    .uniqueArray(fc.tuple(fc.constantFrom(...keys), value), {
      maxLength: 5,
      selector: ([key]) => key,
    })
    .map((entries) => Object.fromEntries(entries));
}

/** A shape of rank 0–5 with sizes 0–7 (0 now and then), scaled down to MAX_FUZZ_SIZE elements. */
export const shape = fc
  .array(fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 9, arbitrary: fc.nat(7) }), {
    maxLength: 5,
  })
  .map((dims) => {
    const out = [...dims];
    const size = () => out.reduce((a, b) => a * b, 1);
    while (size() > MAX_FUZZ_SIZE) {
      const i = out.indexOf(Math.max(...out));
      out[i] = Math.floor(out[i]! / 2);
    }
    return out;
  });

const dtype = fc.constantFrom<DType>("float32", "float64", "int32");

function valuesOf(t: DType): fc.Arbitrary<number> {
  if (t === "int32") {
    return fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: -4, max: 6 }) },
      { weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, -(2 ** 31)) },
    );
  }
  return fc.oneof(
    { weight: 12, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, 1e-30),
    },
  );
}

/** Shapes of rank 1–4 with sizes 1–3: what conv, pooling and matmul accept more often. */
export const smallShape = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 });

/** A tensor of random shape and dtype (or the given ones), with some awkward values. */
export function tensorOf(
  options: { shape?: fc.Arbitrary<number[]>; dtype?: DType } = {},
): fc.Arbitrary<Tensor> {
  const shapes = options.shape ?? shape;
  const dtypes = options.dtype === undefined ? dtype : fc.constant(options.dtype);
  return fc.tuple(shapes, dtypes).chain(([s, t]) => {
    const size = s.reduce((a, b) => a * b, 1);
    return fc
      .array(valuesOf(t), { minLength: size, maxLength: size })
      .map((values) => tensor(values, { dtype: t, shape: s }));
  });
}

/** Counts of fuzzed calls: those that returned a tensor and those rejected with a TapegradError. */
export interface Counter {
  ok: number;
  rejected: number;
  /** Per label [returned, rejected], filled when TAPEGRAD_FUZZ_STATS is set. */
  byLabel?: Map<string, [number, number]>;
}

function tally(counter: Counter, label: string, ok: boolean): void {
  if (ok) counter.ok++;
  else counter.rejected++;
  if (process.env.TAPEGRAD_FUZZ_STATS === undefined) return;
  counter.byLabel ??= new Map();
  const entry = counter.byLabel.get(label) ?? [0, 0];
  entry[ok ? 0 : 1]++;
  counter.byLabel.set(label, entry);
}

/** One call must not take longer than this (ms): a slower one counts as a hang. */
const SLOW_CALL_MS = 5_000;

/**
 * Throws unless `value` is a well-formed plain Tensor (a known dtype, a shape matching its data)
 * or, from an op with several outputs, a non-empty list of them.
 */
export function checkOutcome(label: string, value: unknown): void {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((output, k) => checkOutcome(`${label} (output ${k})`, output));
    return;
  }
  if (!(value instanceof Tensor))
    throw new Error(`${label}: returned ${String(value)}, not a Tensor`);
  const { shape: s, dtype: t, size, buffer } = value;
  const dims = Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!dims) throw new Error(`${label}: returned a tensor with shape ${JSON.stringify(s)}`);
  const elements = s.reduce((a, b) => a * b, 1);
  const expected = { float32: Float32Array, float64: Float64Array, int32: Int32Array }[t];
  if (expected === undefined || !(buffer instanceof expected)) {
    throw new Error(`${label}: returned dtype ${String(t)} over a ${buffer?.constructor?.name}`);
  }
  if (elements !== size || buffer.length !== size) {
    throw new Error(
      `${label}: shape [${s.join(",")}] (${elements} elements) but size ${size}, ` +
        `${buffer.length} stored`,
    );
  }
  if (value.trace !== null)
    throw new Error(`${label}: returned a traced tensor outside a transform`);
}

/**
 * Runs one fuzzed call: a returned Tensor must be well formed, a thrown error must be a
 * TapegradError, and no call may be slow. Anything else fails the property, naming `label`.
 */
export function attempt(counter: Counter, label: string, call: () => unknown): unknown {
  const start = performance.now();
  let value: unknown;
  try {
    value = call();
  } catch (error) {
    if (!(error instanceof TapegradError)) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`${label}: threw ${what}, not a TapegradError`, { cause: error });
    }
    tally(counter, label, false);
    return error;
  } finally {
    const ms = performance.now() - start;
    if (ms > SLOW_CALL_MS) throw new Error(`${label}: one call took ${ms.toFixed(0)} ms`);
  }
  checkOutcome(label, value);
  tally(counter, label, true);
  return value;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h | 0;
}

const scale = Number(process.env.TAPEGRAD_FUZZ_SCALE ?? 1);
const baseSeed = Number(process.env.TAPEGRAD_FUZZ_SEED ?? 20_240_611);

/** fast-check options: `runs` × TAPEGRAD_FUZZ_SCALE runs, a seed fixed per property name. */
export function fuzzOptions(name: string, runs: number): fc.Parameters<unknown> {
  return { numRuns: Math.max(1, Math.round(runs * scale)), seed: hash(name) ^ baseSeed };
}
