import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Tensor, TapegradError, onesLike, prng, tensor, vjp, type Rng } from "@tapegrad/autodiff";
import * as nn from "../src/index.js";
import {
  attempt,
  fuzzOptions,
  optionsOf,
  smallShape,
  tensorOf,
  typical,
  weird,
  type Counter,
} from "@tapegrad/test-kit";

// Every layer factory gets random constructor arguments, valid or not; each layer it builds is
// initialised and applied to random inputs (random params and state too, now and then), in and
// out of training mode. Construction must give a layer or throw a TapegradError; every apply must
// give a well-formed Tensor or throw a TapegradError.

const calls: Counter = { ok: 0, rejected: 0 };

type Factory = (...args: unknown[]) => nn.Layer;

/** Option names each factory reads, so that generated objects often hold meaningful ones. */
const LAYER_OPTIONS = [
  "inFeatures",
  "outFeatures",
  "inChannels",
  "outChannels",
  "kernelSize",
  "stride",
  "padding",
  "outputPadding",
  "dilation",
  "groups",
  "bias",
  "dtype",
  "ceilMode",
  "countIncludePad",
  "numFeatures",
  "eps",
  "momentum",
  "affine",
  "normalizedShape",
  "elementwiseAffine",
  "weightInit",
  "biasInit",
  "numEmbeddings",
  "embeddingDim",
  "paddingIdx",
  "maxLength",
  "dim",
  "inputSize",
  "hiddenSize",
  "numLayers",
  "batchFirst",
  "embedDim",
  "numHeads",
  "dModel",
  "dimFeedforward",
  "causal",
  "normFirst",
  "activation",
] as const;

const smallCount = fc.integer({ min: 1, max: 3 });

/** Plausible options per factory (then bent by `weird` values), and arguments for the rest. */
const plausibleArgs: Record<string, fc.Arbitrary<unknown[]>> = {
  linear: fc.tuple(fc.record({ inFeatures: smallCount, outFeatures: smallCount })),
  conv2d: fc.tuple(
    fc.record({ inChannels: smallCount, outChannels: smallCount, kernelSize: smallCount }),
  ),
  convTranspose2d: fc.tuple(
    fc.record({ inChannels: smallCount, outChannels: smallCount, kernelSize: smallCount }),
  ),
  maxPool2d: fc.tuple(fc.record({ kernelSize: smallCount })),
  avgPool2d: fc.tuple(fc.record({ kernelSize: smallCount })),
  batchNorm1d: fc.tuple(fc.record({ numFeatures: smallCount })),
  batchNorm2d: fc.tuple(fc.record({ numFeatures: smallCount })),
  layerNorm: fc.tuple(
    fc.record({ normalizedShape: fc.oneof(smallCount, fc.array(smallCount, { maxLength: 2 })) }),
  ),
  flatten: fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })),
  dropout: fc.tuple(fc.double({ min: 0, max: 0.99, noNaN: true })),
  leakyRelu: fc.tuple(fc.double({ min: -1, max: 1, noNaN: true })),
  softmax: fc.tuple(fc.integer({ min: -3, max: 3 })),
  logSoftmax: fc.tuple(fc.integer({ min: -3, max: 3 })),
  embedding: fc.tuple(fc.record({ numEmbeddings: smallCount, embeddingDim: smallCount })),
  rmsNorm: fc.tuple(fc.record({ normalizedShape: smallCount })),
  sinusoidalPositionalEncoding: fc.tuple(fc.record({ maxLength: smallCount, dim: smallCount })),
  learnedPositionalEmbedding: fc.tuple(fc.record({ maxLength: smallCount, dim: smallCount })),
  conv1d: fc.tuple(
    fc.record({ inChannels: smallCount, outChannels: smallCount, kernelSize: smallCount }),
  ),
  lstm: fc.tuple(
    fc.record({ inputSize: smallCount, hiddenSize: smallCount, numLayers: smallCount }),
  ),
  gru: fc.tuple(
    fc.record({ inputSize: smallCount, hiddenSize: smallCount, numLayers: smallCount }),
  ),
  multiHeadAttention: fc
    .tuple(smallCount, smallCount, fc.boolean())
    .map(([heads, width, causal]) => [{ embedDim: heads * width, numHeads: heads, causal }]),
  transformerEncoderLayer: fc
    .tuple(smallCount, smallCount, smallCount)
    .map(([heads, width, hidden]) => [
      { dModel: heads * width, numHeads: heads, dimFeedforward: hidden },
    ]),
};

/** Plausible arguments with one option or argument replaced, added or dropped. */
function bent(args: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown[]> {
  const change = fc.record({
    kind: fc.constantFrom("none", "replace", "add", "drop"),
    key: fc.constantFrom(...LAYER_OPTIONS),
    which: fc.nat(),
    value: fc.oneof(weird, typical),
  });
  return fc.tuple(args, change).map(([list, c]) => {
    const out = list.map((a) => (typeof a === "object" && a !== null ? { ...a } : a));
    const first = out[0];
    if (typeof first === "object" && first !== null && !Array.isArray(first)) {
      const options = first as Record<string, unknown>;
      const keys = Object.keys(options);
      if (c.kind === "replace" && keys.length > 0) options[keys[c.which % keys.length]!] = c.value;
      if (c.kind === "add") options[c.key] = c.value;
      if (c.kind === "drop" && keys.length > 0) delete options[keys[c.which % keys.length]!];
    } else if (c.kind === "replace" && out.length > 0) {
      out[c.which % out.length] = c.value;
    } else if (c.kind === "drop") {
      out.pop();
    }
    return out;
  });
}

const anyArgs = fc.array(fc.oneof(weird, optionsOf(LAYER_OPTIONS)), { maxLength: 3 });

/** What the layer is applied to: a random tensor, one of small sizes, or something else. */
const layerInput = fc.oneof(
  { weight: 5, arbitrary: tensorOf({ shape: smallShape }) },
  { weight: 3, arbitrary: tensorOf() },
  { weight: 1, arbitrary: weird },
);

const context = fc.record({
  training: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: weird }),
  rng: fc.oneof(fc.constant("rng"), fc.constant(undefined), weird),
});

/** Params as init made them, or something else: a random tree, a wrong tensor, nothing. */
const paramsChoice = fc.oneof(
  { weight: 6, arbitrary: fc.constant("init") },
  { weight: 1, arbitrary: weird },
  { weight: 1, arbitrary: optionsOf(["weight", "bias", "0", "1", "block"]) },
);

/** The input shape a layer built from `args` expects, where the arguments say (else none). */
function fittingShape(name: string, args: unknown[]): fc.Arbitrary<number[]> | undefined {
  const o = (args[0] ?? {}) as Record<string, unknown>;
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4;
  const lead = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 });
  const spatial = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }));
  const batch = fc.integer({ min: 0, max: 3 });
  if (name === "linear" && count(o.inFeatures)) {
    return lead.map((l) => [...l, o.inFeatures as number]);
  }
  if ((name === "conv2d" || name === "convTranspose2d") && count(o.inChannels)) {
    return fc.tuple(batch, spatial).map(([n, [h, w]]) => [n, o.inChannels as number, h, w]);
  }
  if (name === "batchNorm2d" && count(o.numFeatures)) {
    return fc.tuple(batch, spatial).map(([n, [h, w]]) => [n, o.numFeatures as number, h, w]);
  }
  if (name === "batchNorm1d" && count(o.numFeatures)) {
    return fc
      .tuple(batch, fc.option(fc.integer({ min: 1, max: 4 })))
      .map(([n, l]) =>
        l === null ? [n, o.numFeatures as number] : [n, o.numFeatures as number, l],
      );
  }
  if (name === "layerNorm") {
    const shape = typeof o.normalizedShape === "number" ? [o.normalizedShape] : o.normalizedShape;
    if (Array.isArray(shape) && shape.every(count)) return lead.map((l) => [...l, ...shape]);
  }
  if (name === "rmsNorm" && count(o.normalizedShape)) {
    return lead.map((l) => [...l, o.normalizedShape as number]);
  }
  if (name === "conv1d" && count(o.inChannels)) {
    return fc
      .tuple(batch, fc.integer({ min: 1, max: 6 }))
      .map(([n, l]) => [n, o.inChannels as number, l]);
  }
  const sequence = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }));
  if ((name === "lstm" || name === "gru") && count(o.inputSize)) {
    return sequence.map(([t, b]) => [t, b, o.inputSize as number]);
  }
  const width = name === "multiHeadAttention" ? o.embedDim : o.dModel;
  if (Number.isInteger(width) && (width as number) >= 1 && (width as number) <= 16) {
    return sequence.map(([t, b]) => [t, b, width as number]);
  }
  if (name.endsWith("PositionalEncoding") || name.endsWith("PositionalEmbedding")) {
    if (count(o.dim) && count(o.maxLength)) {
      return fc
        .tuple(fc.integer({ min: 1, max: o.maxLength as number }), fc.integer({ min: 1, max: 3 }))
        .map(([t, b]) => [b, t, o.dim as number]);
    }
  }
  if (["maxPool2d", "avgPool2d", "globalAvgPool2d"].includes(name)) {
    return fc.tuple(batch, spatial).map(([n, [h, w]]) => [n, 2, h + 2, w + 2]);
  }
  return undefined;
}

/** Constructor arguments, then applications: random inputs and one that fits the layer. */
function argsAndApplications(name: string, args: fc.Arbitrary<unknown[]>) {
  return args.chain((a) => {
    const shape = fittingShape(name, a);
    const fitting =
      shape === undefined
        ? fc.constant([])
        : fc
            .tuple(tensorOf({ shape, dtype: "float32" }), context)
            .map(([x, ctx]) => [[x, ctx, "init"] as const]);
    return fc.tuple(fc.constant(a), applications, fitting).map(([list, apps, fit]) => ({
      args: list,
      applications: [...fit, ...apps],
    }));
  });
}

function isLayer(value: unknown): value is nn.Layer {
  const layer = value as nn.Layer;
  return (
    typeof value === "object" &&
    value !== null &&
    typeof layer.kind === "string" &&
    typeof layer.init === "function" &&
    typeof layer.apply === "function" &&
    typeof layer.applyWithState === "function"
  );
}

/** Builds a layer from `args`; a layer that comes back is initialised and applied. */
function exercise(
  name: string,
  make: Factory,
  args: unknown[],
  seed: number,
  applications: readonly (readonly [unknown, { training: unknown; rng: unknown }, unknown])[],
): void {
  let layer: unknown;
  try {
    layer = make(...args);
  } catch (error) {
    if (!(error instanceof TapegradError)) {
      throw new Error(`${name}(…): threw ${String(error)}, not a TapegradError`, { cause: error });
    }
    calls.rejected++;
    return;
  }
  if (!isLayer(layer)) throw new Error(`${name}(…) returned ${String(layer)}, not a layer`);
  calls.ok++;
  const rng: Rng = prng(seed);
  let variables: nn.Variables | undefined;
  try {
    variables = layer.init(rng);
  } catch (error) {
    if (!(error instanceof TapegradError)) {
      throw new Error(`${name}.init: threw ${String(error)}, not a TapegradError`, {
        cause: error,
      });
    }
    calls.rejected++;
    return;
  }
  calls.ok++;
  for (const [x, ctx, paramsPick] of applications) {
    const context = { ...ctx, rng: ctx.rng === "rng" ? rng : ctx.rng } as nn.ApplyContext;
    const params = paramsPick === "init" ? variables.params : paramsPick;
    attempt(calls, `${name}.apply`, () =>
      layer.apply(params, x as Tensor, { ...context, state: variables!.state }),
    );
    attempt(calls, `${name}.applyWithState`, () => {
      const [y, state] = layer.applyWithState(params, variables!.state, x as Tensor, context);
      // The state must be reusable: a second call with it obeys the same rules.
      layer.applyWithState(params, state, x as Tensor, context);
      return y;
    });
    // Gradients with respect to the params, as training takes them.
    if (paramsPick === "init" && x instanceof Tensor && x.dtype !== "int32") {
      attempt(calls, `${name} vjp`, () => {
        const [y, pullback] = vjp(
          (p: unknown) => layer.apply(p, x, { ...context, state: variables!.state }),
          variables!.params,
        );
        pullback(onesLike(y));
        return y;
      });
    }
  }
}

const factories = Object.entries({
  linear: nn.linear,
  conv2d: nn.conv2d,
  convTranspose2d: nn.convTranspose2d,
  maxPool2d: nn.maxPool2d,
  avgPool2d: nn.avgPool2d,
  globalAvgPool2d: nn.globalAvgPool2d,
  flatten: nn.flatten,
  dropout: nn.dropout,
  batchNorm1d: nn.batchNorm1d,
  batchNorm2d: nn.batchNorm2d,
  layerNorm: nn.layerNorm,
  relu: nn.relu,
  leakyRelu: nn.leakyRelu,
  sigmoid: nn.sigmoid,
  tanh: nn.tanh,
  gelu: nn.gelu,
  softmax: nn.softmax,
  logSoftmax: nn.logSoftmax,
  embedding: nn.embedding,
  rmsNorm: nn.rmsNorm,
  sinusoidalPositionalEncoding: nn.sinusoidalPositionalEncoding,
  learnedPositionalEmbedding: nn.learnedPositionalEmbedding,
  conv1d: nn.conv1d,
  lstm: nn.lstm,
  gru: nn.gru,
  multiHeadAttention: nn.multiHeadAttention,
  transformerEncoderLayer: nn.transformerEncoderLayer,
}) as [string, Factory][];

const applications = fc.array(fc.tuple(layerInput, context, paramsChoice), {
  minLength: 1,
  maxLength: 3,
});

describe("every layer factory, with random constructor arguments and inputs", () => {
  for (const [name, make] of factories) {
    it(name, () => {
      const args = fc.oneof(
        { weight: 1, arbitrary: anyArgs },
        { weight: 3, arbitrary: bent(plausibleArgs[name] ?? fc.constant([])) },
      );
      fc.assert(
        fc.property(argsAndApplications(name, args), fc.nat(), (c, seed) =>
          exercise(name, make, c.args, seed, c.applications),
        ),
        fuzzOptions(`nn ${name}`, 150),
      );
    });
  }
});

describe("combinators of random layers", () => {
  const leaf = fc.constantFrom<[string, Factory, unknown[]]>(
    ["linear", nn.linear as Factory, [{ inFeatures: 2, outFeatures: 2 }]],
    ["relu", nn.relu as Factory, []],
    ["layerNorm", nn.layerNorm as Factory, [{ normalizedShape: 2 }]],
    ["batchNorm1d", nn.batchNorm1d as Factory, [{ numFeatures: 2 }]],
    ["dropout", nn.dropout as Factory, [0.5]],
    ["flatten", nn.flatten as Factory, []],
  );
  const layers = fc.array(leaf, { maxLength: 3 }).map((list) => list.map(([, f, a]) => f(...a)));
  const builders: [string, fc.Arbitrary<unknown[]>, Factory][] = [
    ["sequential", fc.tuple(fc.oneof(layers, weird)), nn.sequential as Factory],
    [
      "residual",
      fc.tuple(
        layers.map((l) => nn.sequential(l)),
        fc.option(weird),
      ),
      nn.residual as Factory,
    ],
    [
      "parallel",
      fc.tuple(fc.oneof(layers, weird), fc.oneof(optionsOf(["concatAxis"]), weird)),
      nn.parallel as Factory,
    ],
  ];
  for (const [name, args, make] of builders) {
    it(name, () => {
      fc.assert(
        fc.property(args, fc.nat(), applications, (a, seed, apps) =>
          exercise(name, make, a, seed, apps),
        ),
        fuzzOptions(`nn ${name}`, 100),
      );
    });
  }
});

/** A classification batch: logits [N, C], int32 labels [N] (some out of range), targets [N, C]. */
const batch = fc
  .record({ n: fc.integer({ min: 0, max: 3 }), c: fc.integer({ min: 1, max: 4 }) })
  .chain(({ n, c }) =>
    fc.tuple(
      tensorOf({ shape: fc.constant([n, c]), dtype: "float32" }),
      fc
        .array(fc.integer({ min: -1, max: c }), { minLength: n, maxLength: n })
        .map((labels) => tensor(labels, { dtype: "int32", shape: [n] })),
      tensorOf({ shape: fc.constant([n, c]) }),
      fc.constant(c),
    ),
  );

/** The batch's arguments, one of them replaced by an awkward value now and then. */
function bentArgs(args: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown[]> {
  return fc
    .tuple(args, fc.option(fc.tuple(fc.nat(), fc.oneof(weird, tensorOf()))))
    .map(([list, change]) => {
      const out = [...list];
      if (change !== null && out.length > 0) out[change[0] % out.length] = change[1];
      return out;
    });
}

/** Runs `call` under the fuzz rules, for results that are not tensors (numbers, strings, …). */
function attemptAny(label: string, call: () => unknown): void {
  attempt(calls, label, () => {
    call();
    return tensor(0);
  });
}

describe("losses and metrics, with random arguments", () => {
  const reduction = optionsOf(["reduction", "labelSmoothing", "posWeight", "weight"]);
  const cases: [string, (b: [Tensor, Tensor, Tensor, number], o: unknown) => unknown[]][] = [
    ["crossEntropy", ([logits, labels], o) => [logits, labels, o]],
    ["nllLoss", ([logits, labels], o) => [logits, labels, o]],
    ["binaryCrossEntropyWithLogits", ([logits, , targets], o) => [logits, targets, o]],
    ["mse", ([logits, , targets], o) => [logits, targets, o]],
    ["accuracy", ([logits, labels]) => [logits, labels]],
    ["confusionMatrix", ([logits, labels, , c]) => [logits, labels, c]],
  ];
  for (const [name, toArgs] of cases) {
    it(name, () => {
      const fn = (nn as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
      const args = bentArgs(fc.tuple(batch, reduction).map(([b, o]) => toArgs(b, o)));
      fc.assert(
        fc.property(args, (list) => attemptAny(name, () => fn(...list))),
        fuzzOptions(`nn ${name}`, 200),
      );
    });
  }
});

describe("optimizers, with random options, params and gradients", () => {
  const keys = ["lr", "momentum", "nesterov", "weightDecay", "dampening", "betas", "eps", "alpha"];
  const options = fc
    .tuple(
      fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), weird),
      optionsOf([...keys, "centered"]),
    )
    .map(([lr, rest]) => ({ lr, ...rest }));
  const params = fc.record({ w: tensorOf({ shape: smallShape }), b: tensorOf() });
  const makers = Object.entries({
    sgd: nn.optim.sgd,
    adam: nn.optim.adam,
    adamW: nn.optim.adamW,
    rmsprop: nn.optim.rmsprop,
  }) as [string, (o: unknown) => nn.optim.Optimizer][];
  for (const [name, make] of makers) {
    it(name, () => {
      fc.assert(
        fc.property(fc.oneof(options, weird), params, fc.oneof(params, weird), (o, p, g) =>
          attemptAny(name, () => {
            const optimizer = make(o);
            const state = optimizer.init(p);
            const [next, after] = optimizer.update(g, state, p);
            optimizer.update(g, after, next);
          }),
        ),
        fuzzOptions(`nn ${name}`, 200),
      );
    });
  }
});

it("made at least 5,000 layer calls", () => {
  const total = calls.ok + calls.rejected;
  console.log(`nn fuzz: ${total} calls (${calls.ok} returned, ${calls.rejected} rejected)`);
  for (const [label, [ok, rejected]] of calls.byLabel ?? []) {
    console.log(`  ${label}: ${ok} returned, ${rejected} rejected`);
  }
  expect(total).toBeGreaterThanOrEqual(5_000);
});
