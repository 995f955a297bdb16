import { describe, expect, it } from "vitest";
import {
  add,
  checkpoint,
  exp,
  grad,
  jit,
  matmul,
  maxPool2d,
  mul,
  prng,
  randomKey,
  randomUniform,
  splitKey,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  vmap,
  where,
  greater,
  adamUpdate,
  conv2d,
  relu,
  reshape,
  getBackend,
  listBackends,
  setBackend,
  type Tensor,
} from "../index.js";
import { caught, expectSameBits as sameBits } from "../../test/helpers.js";
import { arr } from "../../test/values.js";

const rng = prng(11);
const draw = (shape: number[]) => rng.normal(shape, { dtype: "float64" });

/** Element-for-element equality, as bits, of tensors passed as results of any type. */
const expectSameBits = (got: unknown, want: unknown) => sameBits(got as Tensor, want as Tensor);

// A small CNN's loss: convolution-free but with max pooling (an op that keeps residuals for its
// vjp) and a matmul, so its gradient's program reads a residual.
const loss = (params: { w: Tensor; v: Tensor }, x: Tensor) => {
  const pooled = maxPool2d(tanh(mul(x, params.w)), { kernelSize: 2 });
  return sum(exp(matmul(pooled, params.v)));
};
const paramsOf = () => ({ w: draw([]), v: draw([2, 3]) });

type Params = { w: Tensor; v: Tensor };

/**
 * jit(valueAndGrad(f)) against valueAndGrad(f), bit for bit, on each backend: five calls with new
 * arguments (the traced call, the recorded replay and replays on the memory plan), one trace.
 */
function expectEagerGradients(
  f: (p: Params, x: Tensor) => Tensor,
  argsOf: () => [Params, Tensor],
  backends: readonly string[] = listBackends(),
): void {
  const original = getBackend();
  try {
    for (const backend of backends) {
      setBackend(backend);
      const step = jit(valueAndGrad(f));
      for (let call = 0; call < 5; call++) {
        const [params, x] = argsOf();
        const [value, grads] = step(params, x);
        const [wantValue, wantGrads] = valueAndGrad(f)(params, x);
        expectSameBits(value, wantValue);
        expectSameBits(grads.w, wantGrads.w);
        expectSameBits(grads.v, wantGrads.v);
      }
      expect(step.cacheSize, backend).toBe(1);
    }
  } finally {
    setBackend(original);
  }
}

describe("jit", () => {
  it("traces once per signature and replays on new values", () => {
    let runs = 0;
    const f = jit((x: Tensor, y: Tensor) => {
      runs++;
      return add(mul(x, y), exp(x));
    });
    for (let call = 0; call < 3; call++) {
      const x = draw([2, 3]);
      const y = draw([2, 3]);
      expectSameBits(f(x, y), add(mul(x, y), exp(x)));
    }
    expect(runs).toBe(1);
    f(draw([3]), draw([3]));
    f(draw([2, 3]), draw([2, 3]));
    expect(runs).toBe(2);
    expect(f.cacheSize).toBe(2);
  });

  it("of valueAndGrad equals valueAndGrad, on the traced call and on replays", () => {
    expectEagerGradients(loss, () => [paramsOf(), draw([1, 1, 4, 4])], [getBackend()]);
  });

  it("composes under grad and vmap, and inside vmap and another jit", () => {
    const f = (x: Tensor) => sum(tanh(mul(exp(x), x)));
    const x = draw([4, 3]);
    const jf = jit(f);
    for (let call = 0; call < 2; call++) {
      const xi = mul(x, call + 1);
      expectSameBits(grad(jf)(xi), grad(f)(xi));
      expectSameBits(vmap(jf)(xi), vmap(f)(xi));
      expectSameBits(jit(vmap(f))(xi), vmap(f)(xi));
      expectSameBits(jit(grad(jf))(xi), grad(f)(xi));
      const t = draw([]);
      const second = (g: (x: Tensor) => Tensor) => grad(grad((s: Tensor) => g(mul(xi, s))))(t);
      expectSameBits(second(jf), second(f));
    }
  });

  it("replays checkpointed functions under grad", () => {
    const block = (h: Tensor, w: Tensor) => add(h, tanh(matmul(h, w)));
    const net = (h: Tensor, w: Tensor) => sum(checkpoint(block)(checkpoint(block)(h, w), w));
    const step = jit(grad(net, { argnums: 1 }));
    for (let call = 0; call < 2; call++) {
      const h = draw([2, 4]);
      const w = draw([4, 4]);
      expectSameBits(step(h, w), grad(net, { argnums: 1 })(h, w));
    }
  });

  it("takes random keys as ordinary inputs", () => {
    const noisy = jit((key: Tensor, x: Tensor) => add(x, randomUniform(key, x.shape)));
    const x = draw([5]);
    const [k1, k2] = [randomKey(1), randomKey(2)];
    expectSameBits(noisy(k1, x), add(x, randomUniform(k1, [5])));
    expectSameBits(noisy(k2, x), add(x, randomUniform(k2, [5])));
    expect(arr(noisy(k1, x))).not.toEqual(arr(noisy(k2, x)));
    const keys = splitKey(k1, 3);
    const batched = jit((ks: Tensor) => randomUniform(ks, [2]));
    expectSameBits(batched(keys), randomUniform(keys, [2]));
  });

  it("retraces for each value of a static argument, and for numbers in the arguments", () => {
    let runs = 0;
    const f = jit(
      (x: Tensor, mode: string, scale: number) => {
        runs++;
        return mode === "exp" ? mul(exp(x), scale) : mul(tanh(x), scale);
      },
      { staticArgnums: [1] },
    );
    const x = draw([3]);
    expectSameBits(f(x, "exp", 2), mul(exp(x), 2));
    expectSameBits(f(x, "tanh", 2), mul(tanh(x), 2));
    expectSameBits(f(x, "exp", 3), mul(exp(x), 3));
    const x2 = draw([3]);
    expectSameBits(f(x2, "exp", 2), mul(exp(x2), 2));
    expect(runs).toBe(3);
  });

  it("keeps at most cacheSize programs, dropping the least recently used", () => {
    let runs = 0;
    const f = jit(
      (x: Tensor) => {
        runs++;
        return exp(x);
      },
      { cacheSize: 2 },
    );
    f(draw([1]));
    f(draw([2]));
    f(draw([1])); // [1] is now the most recent
    f(draw([3])); // drops [2]
    expect([f.cacheSize, runs]).toEqual([2, 3]);
    f(draw([1]));
    expect(runs).toBe(3);
    f(draw([2]));
    expect(runs).toBe(4);
  });

  it("treats tensors it closes over as constants, and a traced one of an outer transform as valid for that call only", () => {
    const c = draw([3]);
    const f = jit((x: Tensor) => mul(x, c));
    const x = draw([3]);
    expectSameBits(f(x), mul(x, c));
    // d/dv of Σ jit(z ↦ z·w)(y) with w = v is y, on every call although w is traced by grad.
    let w: Tensor;
    const scaled = jit((z: Tensor) => mul(z, w));
    const g = (y: Tensor) =>
      grad((v: Tensor) => {
        w = v;
        return sum(scaled(y));
      })(y);
    for (let call = 0; call < 2; call++) {
      const y = draw([3]);
      expectSameBits(g(y), y);
    }
    expect(scaled.cacheSize).toBe(0);
  });

  it("lists its program", () => {
    const f = jit((x: Tensor, y: Tensor) => [add(mul(x, y), exp(x)), sum(y, { axis: 0 })]);
    const x = tensor([1, 2]);
    expect(String(f.trace(x, x))).toBe(
      [
        "{ lambda  ; a:f32[2] b:f32[2] . let",
        "    c:f32[2] = mul a b",
        "    d:f32[2] = exp a",
        "    e:f32[2] = add c d",
        '    f:f32[] = sum b {"axis":0}',
        "  in (e, f) }",
      ].join("\n"),
    );
  });

  it("rejects reading a traced value, naming the line and static arguments", () => {
    const f = jit((x: Tensor) => (sum(x).item() > 0 ? exp(x) : x));
    const error = caught(() => f(draw([2])));
    expect(error.code).toBe("INVALID_STATE");
    expect(error.message).toMatch(/^jit: \.item\(\) at .*jit\.test\.ts:\d+:\d+ read a value/);
    expect(error.message).toContain("staticArgnums");
    // What the message suggests instead works.
    const g = jit((x: Tensor) => where(greater(sum(x), 0), exp(x), x));
    const x = draw([2]);
    expectSameBits(g(x), where(greater(sum(x), 0), exp(x), x));
    for (const read of [(x: Tensor) => x.data, (x: Tensor) => x.toArray()]) {
      expect(caught(() => jit((x: Tensor) => (read(x), x))(draw([2]))).message).toMatch(
        /^jit: \.(data|toArray\(\)) at /,
      );
    }
  });

  it("rejects an Rng draw inside, and results that are not trees of tensors", () => {
    const r = prng(0);
    expect(caught(() => jit((x: Tensor) => add(x, r.uniform([2])))(draw([2]))).message).toMatch(
      /^Rng: drawing random numbers in JavaScript inside a jitted function/,
    );
    expect(caught(() => jit((x: Tensor) => new Map([["x", x]]))(draw([2]))).message).toMatch(
      /^jit: the function must return tensors, numbers or arrays and plain objects of them/,
    );
    expect(caught(() => jit(42 as never)).message).toBe("jit: expected a function, got 42");
    expect(caught(() => jit((x: Tensor) => x, { cacheSize: 0 })).message).toBe(
      "jit: cacheSize must be a positive integer, got 0",
    );
  });

  describe("memory plan", () => {
    const chain = (x: Tensor) => {
      let h = x;
      for (let i = 0; i < 6; i++) h = tanh(add(mul(h, 1.5), exp(mul(h, -0.5))));
      return sum(h);
    };

    it("replays on shared buffers: results stay right, and the caller's results are its own", () => {
      const f = jit(chain);
      const xs = [0, 1, 2, 3, 4].map(() => draw([32, 32]));
      const results = xs.map((x) => f(x));
      // Every earlier result is intact after the later replays reused the buffers around it.
      results.forEach((y, i) => expectSameBits(y, chain(xs[i]!)));
      const program = f.trace(xs[0]!);
      // 24 ops of 32×32 float64 values, live two or three at a time.
      const perValue = 32 * 32 * 8;
      expect(program.plannedBytes).toBeGreaterThan(0);
      expect(program.plannedBytes!).toBeLessThanOrEqual(6 * perValue);
    });

    it("gives a float32 CNN's gradients bit for bit on every backend, replay after replay", () => {
      // float32 and large enough for the wasm kernels, whose outputs stay resident in wasm memory
      // between calls: a buffer handed out again must not be read from its old resident copy.
      const cnn = (p: Params, x: Tensor) => {
        const h = maxPool2d(relu(conv2d(x, p.w, { padding: 1 })), { kernelSize: 2 });
        return sum(tanh(matmul(reshape(h, [8, 4 * 8 * 8]), p.v)));
      };
      const f32 = (shape: number[]) => rng.normal(shape);
      expectEagerGradients(cnn, () => [
        { w: f32([4, 1, 3, 3]), v: f32([256, 10]) },
        f32([8, 1, 16, 16]),
      ]);
    });

    it("gives eager's gradients bit for bit on every backend, replay after replay", () => {
      expectEagerGradients(loss, () => [paramsOf(), draw([1, 1, 4, 4])]);
    });
  });

  describe("donated arguments", () => {
    type Slots = { w: Tensor; m: Tensor; v: Tensor };
    const settings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true };
    const update = (p: Slots, g: Tensor, hyper: Tensor): Slots => {
      const [w, m, v] = adamUpdate(p.w, g, p.m, p.v, hyper, settings);
      return { w, m, v };
    };
    const f32 = (shape: number[]) => rng.normal(shape);
    const hyperAt = (t: number) =>
      tensor([0.01, 1 - 0.9 ** t, 1 - 0.999 ** t], { dtype: "float64" });

    it("take the results in place, equal to eager, and cannot be used afterwards", () => {
      const donating = jit(update, { donateArgnums: [0] });
      let p: Slots = { w: f32([64, 33]), m: f32([64, 33]), v: mul(f32([64, 33]), 0) };
      let eager = { w: mul(p.w, 1), m: mul(p.m, 1), v: mul(p.v, 1) };
      for (let call = 1; call <= 4; call++) {
        const g = f32([64, 33]);
        const old = p;
        p = donating(p, g, hyperAt(call));
        eager = update(eager, g, hyperAt(call));
        for (const k of ["w", "m", "v"] as const) expectSameBits(p[k], eager[k]);
        // From the third call (after the trace and the recorded replay) the results are
        // written over the donated buffers.
        if (call >= 3) expect(p.w.buffer).toBe(old.w.buffer);
        expect(() => old.w.data).toThrow(/donated to a jitted function/);
        expect(() => add(old.m, 1)).toThrow(/^add: this tensor was donated/);
      }
    });

    it("are not written over where their memory is another argument's too", () => {
      const donating = jit(update, { donateArgnums: [0] });
      for (let call = 1; call <= 4; call++) {
        const shared = f32([9]);
        const p = { w: shared, m: shared, v: mul(f32([9]), 0) };
        const g = f32([9]);
        const want = update({ w: mul(shared, 1), m: mul(shared, 1), v: p.v }, g, hyperAt(call));
        const got = donating(p, g, hyperAt(call));
        expect(got.w.buffer).not.toBe(shared.buffer);
        expect(got.m.buffer).not.toBe(shared.buffer);
        expectSameBits(got.w, want.w);
      }
    });
  });
});
