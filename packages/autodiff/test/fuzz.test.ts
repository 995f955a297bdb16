import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  Tensor,
  listOps,
  onesLike,
  tensor,
  vjp,
  vmap,
  zeros,
  type DType,
} from "../src/index.js";
import * as ops from "../src/ops/index.js";
import { makeSampleKit } from "../src/testing/sampleKit.js";
import {
  KNOWN_ATTRS,
  attempt,
  checkOutcome,
  fuzzOptions,
  optionsOf,
  smallShape,
  tensorOf,
  typical,
  weird,
  type Counter,
} from "@tapegrad/test-kit";

// Every registered op and every public op function gets random shapes (rank 0–5, size 0 too),
// dtypes and attrs, valid or not. Each call must return a well-formed Tensor or throw a
// TapegradError: never a TypeError or RangeError, a hang, or a giant allocation. Fixed seeds
// keep CI reproducible; TAPEGRAD_FUZZ_SEED and TAPEGRAD_FUZZ_SCALE explore further.

const calls: Counter = { ok: 0, rejected: 0 };
const kit = makeSampleKit(fc);

const input = fc.oneof(
  { weight: 12, arbitrary: tensorOf() },
  { weight: 1, arbitrary: fc.double({ noNaN: false }) },
  { weight: 1, arbitrary: weird },
);

/** Attrs for an op: missing, a non-object, or an object of known keys with random values. */
const attrs = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, 0, 1, "axis", []) },
  { weight: 6, arbitrary: optionsOf(KNOWN_ATTRS) },
);

/** A valid sample of the op's own generator, then bent: dtypes, shapes or one attr replaced. */
function mutatedSample(sample: fc.Arbitrary<{ inputs: readonly Tensor[]; attrs: unknown }>) {
  const mutation = fc.record({
    kind: fc.constantFrom("none", "dtype", "tensor", "attr", "dropAttr", "addAttr"),
    which: fc.nat(),
    dtype: fc.constantFrom<DType>("float32", "float64", "int32"),
    tensor: tensorOf(),
    key: fc.constantFrom(...KNOWN_ATTRS),
    value: weird,
  });
  return fc.tuple(sample, mutation).map(([{ inputs, attrs: a }, m]) => {
    const xs = [...inputs];
    const object = { ...(a as Record<string, unknown>) };
    const keys = Object.keys(object);
    const i = xs.length > 0 ? m.which % xs.length : 0;
    if (m.kind === "dtype" && xs.length > 0) xs[i] = ops.cast(xs[i]!, m.dtype);
    if (m.kind === "tensor" && xs.length > 0) xs[i] = m.tensor;
    if (m.kind === "attr" && keys.length > 0) object[keys[m.which % keys.length]!] = m.value;
    if (m.kind === "dropAttr" && keys.length > 0) delete object[keys[m.which % keys.length]!];
    if (m.kind === "addAttr") object[m.key] = m.value;
    return { inputs: xs, attrs: object };
  });
}

/** Applies the op, and now and then its vjp, under `attempt`'s rules. */
function applyAndPull(op: (typeof registered)[number], inputs: readonly unknown[], a: unknown) {
  const outcome = attempt(calls, `${op.definition.name}.apply`, () =>
    op.apply(inputs as Tensor[], a),
  );
  // Differentiate a fraction of the successful float calls: vjps must hold up as well.
  const tensors = inputs.every((x): x is Tensor => x instanceof Tensor);
  const outputs = outcome instanceof Tensor ? [outcome] : Array.isArray(outcome) ? outcome : [];
  if (
    outputs.length > 0 &&
    tensors &&
    outputs.every((y: Tensor) => y.dtype !== "int32") &&
    op.definition.vjp !== undefined &&
    (calls.ok + calls.rejected) % 3 === 0
  ) {
    attempt(calls, `${op.definition.name} vjp`, () => {
      const [y, pullback] = vjp((...xs: Tensor[]) => op.apply(xs, a), ...inputs);
      pullback(y instanceof Tensor ? onesLike(y) : y.map((t) => onesLike(t)));
      return y;
    });
  }
}

const registered = listOps();

/** Valid-looking arguments for the ops that have no `samples` of their own. */
const extraSamples: Record<string, fc.Arbitrary<{ inputs: readonly Tensor[]; attrs: unknown }>> = {
  oneHot: fc
    .tuple(tensorOf({ dtype: "int32" }), fc.integer({ min: 1, max: 7 }), typical)
    .map(([labels, numClasses, dtype]) => ({
      inputs: [ops.maximum(labels, 0)],
      attrs: { numClasses, dtype },
    })),
  argmax: fc
    .tuple(tensorOf(), fc.option(fc.integer({ min: -3, max: 3 })), fc.boolean())
    .map(([x, axis, keepdims]) => ({ inputs: [x], attrs: { axis: axis ?? undefined, keepdims } })),
};
extraSamples.argmin = extraSamples.argmax!;
for (const name of ["equal", "notEqual", "less", "lessEqual", "greater", "greaterEqual"]) {
  extraSamples[name] = kit
    .broadcastPair()
    .chain(([sa, sb]) =>
      fc.tuple(tensorOf({ shape: fc.constant(sa) }), tensorOf({ shape: fc.constant(sb) })),
    )
    .map((inputs) => ({ inputs, attrs: {} }));
}

describe("every registered op, called through the registry with random inputs and attrs", () => {
  for (const op of registered) {
    const { name, inputs: names, variadic } = op.definition;
    it(name, () => {
      const args = variadic
        ? fc.array(input, { maxLength: 4 })
        : fc.tuple(...names.map(() => input));
      fc.assert(
        fc.property(args, attrs, (inputs, a) => applyAndPull(op, inputs, a)),
        fuzzOptions(name, 300),
      );
      const samples = op.definition.samples?.(kit) ?? extraSamples[name];
      if (samples === undefined) return;
      fc.assert(
        fc.property(mutatedSample(samples), ({ inputs, attrs: a }) => applyAndPull(op, inputs, a)),
        fuzzOptions(`${name} samples`, 200),
      );
    });
  }
});

const wrappers = Object.entries(ops)
  .filter(([, value]) => typeof value === "function")
  .map(([name, value]) => [name, value as (...args: unknown[]) => unknown] as const);

const argument = fc.oneof(
  { weight: 8, arbitrary: tensorOf() },
  { weight: 3, arbitrary: weird },
  { weight: 3, arbitrary: optionsOf(KNOWN_ATTRS) },
  { weight: 1, arbitrary: fc.array(tensorOf(), { maxLength: 3 }) },
);

// Arguments that pass validation more often, to reach the kernels behind it: small tensors of
// rank 1–4, small integers and pairs, option objects and lists of equal-shaped tensors.
const plausible = fc.oneof(
  { weight: 6, arbitrary: tensorOf({ shape: smallShape }) },
  { weight: 4, arbitrary: typical },
  { weight: 2, arbitrary: optionsOf(KNOWN_ATTRS) },
  {
    weight: 1,
    arbitrary: smallShape.chain((s) =>
      fc.array(tensorOf({ shape: fc.constant(s) }), { maxLength: 3 }),
    ),
  },
);

type Sample = { inputs: readonly Tensor[]; attrs: unknown };
type Attrs = Record<string, unknown>;

/** A registered sample as the public function's positional arguments, where they differ. */
const positional: Record<string, (xs: readonly Tensor[], a: Attrs) => unknown[]> = {
  reshape: ([x], a) => [x, a.shape],
  broadcastTo: ([x], a) => [x, a.shape],
  cast: ([x], a) => [x, a.dtype],
  transpose: ([x], a) => [x, a.perm],
  slice: ([x], a) => [x, a.begin, a.end],
  pad: ([x], a) => [x, a.paddings, a.value],
  gather: ([x, indices], a) => [x, indices, a.axis],
  scatterAdd: ([updates, indices], a) => [updates, indices, a.shape, a.axis],
  concat: (xs, a) => [xs, a.axis],
  softmax: ([x], a) => [x, a.axis],
  logSoftmax: ([x], a) => [x, a.axis],
  leakyRelu: ([x], a) => [x, a.alpha],
  einsum: (xs, a) => [a.equation, ...xs],
  topk: ([x], { k, ...a }) => [x, k, a],
  oneHot: ([labels], a) => [labels, a.numClasses, a.dtype],
  avgPool2dBackward: ([dy], { inputShape, ...a }) => [dy, inputShape, a],
  // The registered conv ops take resolved [[top, bottom], [left, right]] padding.
  conv2d: ([x, w], a) => [x, w, convOptions(a)],
  conv2dBackpropInput: ([dy, w], a) => [dy, w, { ...convOptions(a), inputShape: a.inputShape }],
  conv2dBackpropFilter: ([x, dy], a) => [x, dy, { ...convOptions(a), filterShape: a.filterShape }],
};

function convOptions(a: Attrs): Attrs {
  const pads = a.padding as number[][] | undefined;
  const padding = Array.isArray(pads) && pads.every(Array.isArray) ? pads.map((p) => p[0]) : pads;
  return { ...a, padding };
}

const small = tensorOf({ shape: smallShape });
const axisArb = fc.integer({ min: -4, max: 4 });

/** Argument lists for the public functions that are not registered ops themselves. */
const composite: Record<string, fc.Arbitrary<unknown[]>> = {
  mean: fc.tuple(small, optionsOf(["axis", "keepdims"])),
  std: fc.tuple(small, optionsOf(["axis", "keepdims", "correction"])),
  norm: fc.tuple(small, optionsOf(["ord", "axis", "keepdims"])),
  split: fc.tuple(small, fc.integer({ min: 1, max: 3 }), optionsOf(["axis"])),
  chunk: fc.tuple(small, fc.integer({ min: 1, max: 4 }), optionsOf(["axis"])),
  expandDims: fc.tuple(tensorOf(), axisArb),
  squeeze: fc.tuple(tensorOf(), fc.option(fc.oneof(axisArb, fc.array(axisArb, { maxLength: 3 })))),
  flatten: fc.tuple(tensorOf(), axisArb, axisArb),
  stack: fc.tuple(
    smallShape.chain((s) => fc.array(tensorOf({ shape: fc.constant(s) }), { maxLength: 3 })),
    axisArb,
  ),
  globalAvgPool2d: fc.tuple(small),
  adaptiveAvgPool2d: fc.tuple(
    tensorOf({ shape: smallShape, dtype: "float32" }),
    fc.oneof(typical, fc.integer({ min: 1, max: 4 })),
  ),
  conv1d: fc
    .record({
      n: fc.integer({ min: 0, max: 2 }),
      c: fc.integer({ min: 1, max: 3 }),
      l: fc.integer({ min: 1, max: 6 }),
      o: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      options: optionsOf(["stride", "padding", "dilation", "groups", "bias"]),
    })
    .chain(({ n, c, l, o, k, options }) =>
      fc.tuple(
        tensorOf({ shape: fc.constant(n === 0 ? [c, l] : [n, c, l]) }),
        tensorOf({ shape: fc.constant([o, c, k]) }),
        fc.constant(options),
      ),
    ),
  convTranspose2d: fc
    .record({
      n: fc.integer({ min: 0, max: 2 }),
      c: fc.integer({ min: 1, max: 3 }),
      h: fc.integer({ min: 1, max: 4 }),
      o: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      options: optionsOf(["stride", "padding", "outputPadding", "dilation", "groups", "bias"]),
    })
    .chain(({ n, c, h, o, k, options }) =>
      fc.tuple(
        tensorOf({ shape: fc.constant(n === 0 ? [c, h, h] : [n, c, h, h]) }),
        tensorOf({ shape: fc.constant([c, o, k, k]) }),
        fc.constant(options),
      ),
    ),
};

/** One positional argument replaced (by an awkward or a plausible value) or the last dropped. */
function mutatedArgs(args: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown[]> {
  const mutation = fc.record({
    kind: fc.constantFrom("none", "none", "replace", "drop"),
    which: fc.nat(),
    value: fc.oneof(weird, plausible),
  });
  return fc.tuple(args, mutation).map(([list, m]) => {
    const out = [...list];
    if (m.kind === "replace" && out.length > 0) out[m.which % out.length] = m.value;
    if (m.kind === "drop") out.pop();
    return out;
  });
}

function wrapperSamples(name: string): fc.Arbitrary<unknown[]> | undefined {
  if (composite[name] !== undefined) return composite[name];
  const op = registered.find((r) => r.definition.name === name);
  const samples: fc.Arbitrary<Sample> | undefined =
    op?.definition.samples?.(kit) ?? extraSamples[name];
  if (samples === undefined) return undefined;
  const toArgs = positional[name] ?? ((xs: readonly Tensor[], a: Attrs) => [...xs, a]);
  return samples.map(({ inputs, attrs: a }) => toArgs(inputs, a as Attrs));
}

describe("every public op function, with random positional arguments", () => {
  for (const [name, fn] of wrappers) {
    it(name, () => {
      const args = fc.oneof(
        fc.array(argument, { maxLength: 4 }),
        fc.array(plausible, { minLength: 1, maxLength: 4 }),
      );
      const call = (list: unknown[]) => void attempt(calls, name, () => fn(...list));
      fc.assert(fc.property(args, call), fuzzOptions(name, 150));
      const samples = wrapperSamples(name);
      if (samples === undefined) throw new Error(`no sample arguments for ${name}`);
      fc.assert(fc.property(mutatedArgs(samples), call), fuzzOptions(`${name} samples`, 150));
    });
  }
});

// The random tensors above are too small for the wasm kernels (float32, ≥ 4096 multiply-adds),
// so extreme geometry also meets them here: strides, paddings and dilations up to 2^53.
describe("window ops with extreme geometry on inputs large enough for the wasm kernels", () => {
  const extreme = fc.constantFrom(
    0,
    1,
    2,
    3,
    2 ** 30,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 + 1,
    2 ** 41,
    2 ** 53,
  );
  const geometry = fc.record({
    stride: extreme,
    padding: extreme,
    dilation: extreme,
    outputPadding: fc.constantFrom(0, 1, 2 ** 31),
  });
  const filled = (shape: number[]) =>
    tensor(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) - 3),
      { shape },
    );
  const x = filled([1, 16, 8, 8]);
  const w = filled([16, 16, 3, 3]);
  const w1 = filled([16, 16, 1, 1]);
  const cases: [string, (g: Attrs) => unknown][] = [
    ["conv2d", (g) => ops.conv2d(x, w, g)],
    ["conv2d 1×1", (g) => ops.conv2d(x, w1, g)],
    ["convTranspose2d", (g) => ops.convTranspose2d(x, w, g)],
    [
      "conv2dBackpropFilter",
      (g) => ops.conv2dBackpropFilter(x, x, { ...g, filterShape: [16, 16, 1, 1] }),
    ],
    ["maxPool2d", (g) => ops.maxPool2d(x, { ...g, kernelSize: 3 })],
    ["avgPool2d", ({ dilation: _, ...g }) => ops.avgPool2d(x, { ...g, kernelSize: 3 })],
  ];
  for (const [name, call] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(geometry, (g) => void attempt(calls, `${name} (extreme)`, () => call(g))),
        fuzzOptions(`${name} extreme`, 150),
      );
    });
  }
});

describe("every op with samples under vmap, with random axes and batch sizes", () => {
  // Axes in or out of range, null, and sizes 0-4 that may disagree between inputs: vmap either
  // maps the op or says why, with a TapegradError.
  const axis = fc.oneof(fc.integer({ min: -4, max: 4 }), fc.constant(null));
  for (const op of registered.filter((o) => o.definition.samples !== undefined)) {
    const { name } = op.definition;
    it(name, () => {
      const cases = fc.tuple(
        op.definition.samples!(kit),
        fc.array(axis, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
      );
      fc.assert(
        fc.property(cases, ([sample, axes, sizes]) => {
          const inAxes = sample.inputs.map((_, i) => axes[i % axes.length]!);
          // Each input stacked `size` times along a new first axis (wherever inAxes points).
          const inputs = sample.inputs.map((x, i) => {
            const size = sizes[i % sizes.length]!;
            if (size === 0) return zeros([0, ...x.shape], x.dtype);
            return ops.stack(
              Array.from({ length: size }, () => x),
              0,
            );
          });
          attempt(calls, `vmap ${name}`, () =>
            vmap((...xs: Tensor[]) => op.apply(xs, sample.attrs), { inAxes, axisSize: 2 })(
              ...inputs,
            ),
          );
        }),
        fuzzOptions(`vmap ${name}`, 60),
      );
    });
  }
});

describe("the fuzzer itself", () => {
  it("checks its outcome rules", () => {
    expect(() => checkOutcome("t", tensor([1, 2]))).not.toThrow();
    expect(() => checkOutcome("t", 3)).toThrow(/not a Tensor/);
  });
});

it("made at least 10,000 op calls", () => {
  const total = calls.ok + calls.rejected;
  console.log(
    `autodiff fuzz: ${total} op calls (${calls.ok} returned, ${calls.rejected} rejected)`,
  );
  for (const [label, [ok, rejected]] of calls.byLabel ?? []) {
    console.log(`  ${label}: ${ok} returned, ${rejected} rejected`);
  }
  expect(total).toBeGreaterThanOrEqual(10_000);
});
