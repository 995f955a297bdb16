import { describe, expect, it } from "vitest";
import { TapegradError, jit, mul, tensor, treeLeaves, type Tensor } from "@tapegrad/autodiff";
import { decodeSafetensors, encodeSafetensors } from "../safetensors.js";
import { loadInto } from "../tree.js";
import { adam, adamW } from "./adam.js";
import { clipGradients } from "./clip.js";
import { chain, type Optimizer } from "./optimizer.js";
import { rmsprop } from "./rmsprop.js";
import { cosineDecay, linearWarmup, stepDecay } from "./schedule.js";
import { sgd } from "./sgd.js";

const everyOptimizer: [string, Optimizer][] = [
  ["sgd", sgd({ lr: 0.1 })],
  ["sgd momentum", sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
  ["sgd nesterov", sgd({ lr: 0.1, momentum: 0.9, nesterov: true })],
  ["adam", adam({ lr: 0.1, weightDecay: 0.01 })],
  ["adamW", adamW({ lr: 0.1 })],
  ["rmsprop", rmsprop({ lr: 0.1, momentum: 0.5, centered: true })],
  ["chained", chain(clipGradients(0.5), adam({ lr: 0.1 }))],
];

type Params = { layers: { w: Tensor; b: Tensor }[]; scale: Tensor };

const params = (): Params => ({
  layers: [
    {
      w: tensor([
        [1, -2],
        [3, 0.5],
      ]),
      b: tensor([0.1, -0.1]),
    },
    { w: tensor([[2], [-1]]), b: tensor([0]) },
  ],
  scale: tensor(1.5),
});

const grads = (): Params => ({
  layers: [
    {
      w: tensor([
        [0.3, -0.2],
        [0.1, 0.4],
      ]),
      b: tensor([-0.5, 0.25]),
    },
    { w: tensor([[1], [-2]]), b: tensor([0.75]) },
  ],
  scale: tensor(-0.3),
});

/** Every number in a tree of tensors and numbers, for comparing trees exactly. */
const numbers = (tree: unknown) =>
  treeLeaves(tree).map((leaf) =>
    typeof leaf === "number" ? leaf : Array.from((leaf as Tensor).data),
  );

describe.each(everyOptimizer)("%s", (_name, optimizer) => {
  it("is pure: the same inputs give the same outputs and are left unchanged", () => {
    const p = params();
    const g = grads();
    let state = optimizer.init(p);
    // Advance once so the state holds non-zero moments and step 1.
    [, state] = optimizer.update(g, state, p);
    const before = { p: numbers(p), g: numbers(g), state: numbers(state) };
    const first = optimizer.update(g, state, p);
    const second = optimizer.update(g, state, p);
    expect(numbers(first)).toEqual(numbers(second));
    expect({ p: numbers(p), g: numbers(g), state: numbers(state) }).toEqual(before);
    expect(numbers(first[0])).not.toEqual(numbers(p));
  });

  it("returns params of the same structure, shapes and dtypes, and a state of numbers and tensors", () => {
    const p = params();
    const [next, state] = optimizer.update(grads(), optimizer.init(p), p);
    expect(next.layers[1]!.w.shape).toEqual([2, 1]);
    expect(next.scale.shape).toEqual([]);
    expect(treeLeaves(next).every((t) => (t as Tensor).dtype === "float32")).toBe(true);
    expect((state as { step: number }).step).toBe(1);
    for (const leaf of treeLeaves(state)) {
      expect(typeof leaf === "number" || (leaf as Tensor).dtype === "float32").toBe(true);
    }
  });

  it("matches grads to params by key, not by order", () => {
    const p = params();
    const g = grads();
    const reordered = {
      scale: g.scale,
      layers: g.layers.map((layer) => ({ b: layer.b, w: layer.w })),
    };
    const state = optimizer.init(p);
    expect(numbers(optimizer.update(reordered, state, p))).toEqual(
      numbers(optimizer.update(g, state, p)),
    );
  });
});

describe("optimizer errors", () => {
  const optimizer = adam({ lr: 0.1 });
  const p = { w: tensor([1, 2]), b: tensor([0]) };

  it("names a gradient of the wrong shape by its path", () => {
    const g = { w: tensor([1, 2, 3]), b: tensor([0]) };
    expect(() => optimizer.update(g, optimizer.init(p), p)).toThrow(
      "adam.update: grads.w has shape [3], expected [2] (the shape of params.w)",
    );
  });

  it("names a gradient tree of the wrong structure", () => {
    const g = { w: tensor([1, 2]) } as unknown as typeof p;
    expect(() => optimizer.update(g, optimizer.init(p), p)).toThrow(
      expect.objectContaining({
        name: "TapegradError",
        message: expect.stringMatching(
          /^adam\.update: grads does not have the structure of params/,
        ),
      }),
    );
  });

  it("rejects integer params and a state without a step", () => {
    expect(() => sgd({ lr: 1 }).init({ n: tensor([1], { dtype: "int32" }) })).not.toThrow();
    expect(() => adam({ lr: 1 }).init({ n: tensor([1], { dtype: "int32" }) })).toThrow(
      "adam.init: params.n must be a float32 or float64 tensor, got an int32 tensor",
    );
    const state = { ...optimizer.init(p), step: -1 };
    expect(() => optimizer.update(p, state, p)).toThrow(
      "adam.update: state.step must be a non-negative integer (the updates applied so far), got -1",
    );
  });

  it("throws TapegradError with INVALID_ARGUMENT for bad hyperparameters", () => {
    expect(() => sgd({ lr: Number.POSITIVE_INFINITY })).toThrow(TapegradError);
    expect(() => rmsprop({ lr: 0.1, eps: -1 })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  it("checks what a schedule returns", () => {
    const bad = sgd({ lr: () => Number.NaN });
    expect(() => bad.update(p, bad.init(p), p)).toThrow(
      "sgd.update: the lr schedule returned NaN at step 0; expected a finite number ≥ 0",
    );
  });
});

describe("learning-rate schedules in optimizers", () => {
  it("evaluates the schedule at the number of updates already applied", () => {
    // lr = 1 for steps 0 and 1, then 0.5: w = 0 with gradient 1 moves −1, −1, −0.5.
    const optimizer = sgd({ lr: stepDecay({ lr: 1, stepSize: 2, gamma: 0.5 }) });
    let p = { w: tensor([0], { dtype: "float64" }) };
    let state = optimizer.init(p);
    const path: number[] = [];
    for (let i = 0; i < 3; i++) {
      [p, state] = optimizer.update({ w: tensor([1], { dtype: "float64" }) }, state, p);
      path.push(p.w.item());
    }
    expect(path).toEqual([-1, -2, -2.5]);
  });

  it("accepts a step restored from a checkpoint as a scalar tensor", () => {
    const optimizer = sgd({ lr: stepDecay({ lr: 1, stepSize: 2, gamma: 0.5 }) });
    const p = { w: tensor([0], { dtype: "float64" }) };
    const [next, state] = optimizer.update(p, { step: tensor(2, { dtype: "int32" }) } as never, p);
    expect(next.w.item()).toBe(0); // gradient 0
    expect((state.step as Tensor).item()).toBe(3);
  });
});

describe("chain", () => {
  it("transforms the gradients before the optimizer sees them", () => {
    // ‖[3, 4]‖ = 5 > 1, so the gradient is scaled by 1/(5 + 1e-6) before w ← w − 1·g.
    const optimizer = chain(clipGradients(1), sgd({ lr: 1 }));
    const p = { w: tensor([0, 0], { dtype: "float64" }) };
    const [next] = optimizer.update(
      { w: tensor([3, 4], { dtype: "float64" }) },
      optimizer.init(p),
      p,
    );
    const scale = 1 / (5 + 1e-6);
    expect(next.w.data[0]).toBeCloseTo(-3 * scale, 14);
    expect(next.w.data[1]).toBeCloseTo(-4 * scale, 14);
  });
});

describe("checkpointing", () => {
  it("state survives a safetensors round trip and training continues identically", () => {
    const optimizer = adam({ lr: 0.1 });
    const p = params();
    const [p1, s1] = optimizer.update(grads(), optimizer.init(p), p);
    const bytes = encodeSafetensors({ params: p1, optimizer: s1 });
    const restored = loadInto({ params: p1, optimizer: s1 }, decodeSafetensors(bytes).tree);
    expect(restored.optimizer.step).toBe(1);
    const direct = optimizer.update(grads(), s1, p1);
    const resumed = optimizer.update(grads(), restored.optimizer, restored.params);
    expect(numbers(resumed)).toEqual(numbers(direct));
  });
});

describe("a step that is a tensor (as jit traces it)", () => {
  const scheduled: [string, Optimizer][] = [
    ...everyOptimizer,
    ["adamW, cosine", adamW({ lr: cosineDecay({ lr: 0.1, totalSteps: 3, minLr: 0.01 }) })],
    [
      "sgd momentum, step decay",
      sgd({ lr: stepDecay({ lr: 0.1, stepSize: 2 }), momentum: 0.9, dampening: 0.1 }),
    ],
    ["rmsprop, warmup", rmsprop({ lr: linearWarmup({ warmupSteps: 2, lr: 0.1 }) })],
  ];
  for (const [name, optimizer] of scheduled) {
    it(`${name}: gives the number step's results bit for bit, eagerly and jitted`, () => {
      const update = jit((g: Params, state: unknown, p: Params) => optimizer.update(g, state, p));
      let [p1, p2, p3] = [params(), params(), params()];
      let s1 = optimizer.init(p1);
      let s2: unknown = { ...(s1 as object), step: tensor(0, { dtype: "int32" }) };
      let s3 = s2;
      for (let t = 0; t < 5; t++) {
        const g = grads();
        g.scale = mul(g.scale, t + 1);
        [p1, s1] = optimizer.update(g, s1, p1);
        [p2, s2] = optimizer.update(g, s2, p2);
        [p3, s3] = update(g, s3, p3);
        expect(numbers(p2), `step ${t}`).toEqual(numbers(p1));
        expect(numbers(p3), `step ${t}, jitted`).toEqual(numbers(p1));
      }
      expect((s3 as { step: Tensor }).step.item()).toBe(5);
      expect(update.cacheSize).toBe(1);
    });
  }

  it("needs a schedule's traced form under jit, and says so", () => {
    const optimizer = sgd({ lr: (step) => 0.1 / (step + 1) });
    const p = params();
    const state = { step: tensor(0, { dtype: "int32" }) };
    // Eagerly the tensor's value is read and the plain function used.
    expect(() => optimizer.update(grads(), state, p)).not.toThrow();
    const update = jit((s: typeof state) => optimizer.update(grads(), s, p));
    expect(() => update(state)).toThrow(
      /^sgd\.update: the lr schedule is a function of a number, which cannot follow a step traced by jit/,
    );
  });
});
