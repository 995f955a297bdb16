import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  getOp,
  grad,
  logSumExp,
  matmul,
  mul,
  profileTape,
  randomBernoulli,
  randomKey,
  randomNormal,
  reshape,
  scaledDotProductAttention,
  scaledDotProductAttentionBackward,
  slice,
  softmax,
  square,
  stack,
  sum,
  tensor,
  vmap,
  where,
  type ScaledDotProductAttentionOptions,
  type Tensor,
} from "../../index.js";
import { caught, expectValues, f64 } from "../../../test/helpers.js";

/** Normal float64 values of `shape` drawn from randomKey(seed). */
const normal = (seed: number, shape: number[]) =>
  randomNormal(randomKey(seed), shape, { dtype: "float64" });

/** Slice b of x along its first axis. */
function sliceOf(x: Tensor, b: number): Tensor {
  const [n, ...rest] = x.shape;
  const begin = x.shape.map((_, i) => (i === 0 ? b : 0));
  const end = x.shape.map((d, i) => (i === 0 ? b + 1 : d));
  expect(b).toBeLessThan(n!);
  return reshape(slice(x, begin, end), rest);
}

/** int32 [Lq, Lk], 1 where key j ≤ query i. */
function lowerTriangle(lq: number, lk: number): Tensor {
  const rows = Array.from({ length: lq }, (_, i) =>
    Array.from({ length: lk }, (_, j) => +(j <= i)),
  );
  return tensor(rows, { dtype: "int32" });
}

/** The formula itself, softmax(scale·q·kᵀ + mask)·v, composed from matmul and softmax. */
function reference(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: ScaledDotProductAttentionOptions = {},
) {
  const { mask, causal = false, scale, dropout } = options;
  const e = q.shape[q.ndim - 1]!;
  let s = mul(matmul(q, k, { transB: true }), scale ?? 1 / Math.sqrt(e));
  if (mask !== undefined && mask.dtype !== "int32") s = add(s, mask);
  if (mask !== undefined && mask.dtype === "int32") s = where(mask, s, -Infinity);
  if (causal) s = where(lowerTriangle(q.shape[q.ndim - 2]!, k.shape[k.ndim - 2]!), s, -Infinity);
  let p = softmax(s, -1);
  if (dropout !== undefined) {
    const kept = randomBernoulli(dropout.key, 1 - dropout.rate, p.shape, { dtype: "float64" });
    p = mul(p, mul(kept, 1 / (1 - dropout.rate)));
  }
  return matmul(p, v);
}

/** Every element of `got` within tol·max(1, |expected|) of `expected`. */
function expectClose(got: Tensor, expected: Tensor, tol = 1e-12): void {
  expect(got.shape).toEqual(expected.shape);
  const a = got.data;
  const b = expected.data;
  for (let i = 0; i < b.length; i++) {
    const close = Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!));
    if (!close) expect.fail(`element ${i}: got ${a[i]}, expected ${b[i]}`);
  }
}

// The PyTorch case: q [1, 2, 3], k [1, 4, 3], v [1, 4, 2], and the loss Σ w∘y.
const q0 = f64([
  [
    [0.5, -1, 0.25],
    [1.5, 0, -0.5],
  ],
]);
const k0 = f64([
  [
    [1, 0.5, -0.5],
    [-0.25, 1, 0.75],
    [0, -1.5, 1],
    [2, 0.25, 0.5],
  ],
]);
const v0 = f64([
  [
    [1, -2],
    [0.5, 0],
    [-1, 1.5],
    [0.25, 0.75],
  ],
]);
const w0 = f64([
  [
    [1, -0.5],
    [0.25, 2],
  ],
]);

/** y and the gradients of Σ w0∘y with respect to q, k, v (and the mask when it is float). */
function valueAndGrads(options: ScaledDotProductAttentionOptions = {}) {
  const loss = (q: Tensor, k: Tensor, v: Tensor, mask: Tensor) =>
    sum(mul(scaledDotProductAttention(q, k, v, { ...options, ...(options.mask && { mask }) }), w0));
  const mask = options.mask ?? f64(0);
  const argnums = options.mask?.dtype === "float64" ? [0, 1, 2, 3] : [0, 1, 2];
  const grads = grad(loss, { argnums })(q0, k0, v0, mask);
  return { y: scaledDotProductAttention(q0, k0, v0, options), grads };
}

describe("scaledDotProductAttention against PyTorch", () => {
  it("matches F._scaled_dot_product_attention without a mask, values and gradients", () => {
    // PyTorch 1.13 torch.nn.functional._scaled_dot_product_attention(q, k, v, None, 0.0, False,
    // False) on these float64 tensors, and autograd of (y * w).sum().
    const { y, grads } = valueAndGrads();
    expectValues(
      y,
      [1, 2, 2],
      [-0.18776983468060734, 0.5919463265714568, 0.39225113632535613, -0.07744879238415958],
    );
    const [dq, dk, dv] = grads;
    expectValues(
      dq!,
      [1, 2, 3],
      [
        0.327574970475986, 0.6922264376029296, -0.3812350372794063, 0.36238546206112127,
        -0.3914896291642861, 0.7171165366444465,
      ],
    );
    expectValues(
      dk!,
      [1, 4, 3],
      [
        -0.8593284664541767, -0.22550471026760233, 0.3804031180962265, 0.039238006906673575,
        -0.055873301842901776, 0.010201206798984548, 0.03183863629224304, 0.3393973049450587,
        -0.1520284224911888, 0.7882518232552601, -0.05801929283455455, -0.2385759024040223,
      ],
    );
    expectValues(
      dv!,
      [1, 4, 2],
      [
        0.23323925800301382, 0.5292307861165944, 0.11631634746202016, 0.09434604331878513,
        0.48497246477362693, -0.06630207165909918, 0.41547192976133895, 0.9427252422237198,
      ],
    );
  });

  it("matches is_causal=True (top-left aligned)", () => {
    // PyTorch 1.13 F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True).
    const { y, grads } = valueAndGrads({ causal: true });
    expectValues(y, [1, 2, 2], [1, -2, 0.9044884247519949, -1.617953699007979]);
    const [dq, dk, dv] = grads;
    expectValues(
      dq!,
      [1, 2, 3],
      [0, 0, 0, -0.4321586294962944, 0.1728634517985178, 0.4321586294962944],
    );
    expectValues(
      dk!,
      [1, 4, 3],
      [
        -0.5185903553955533, 0, 0.17286345179851775, 0.5185903553955534, 0, -0.17286345179851778, 0,
        0, 0, 0, 0, 0,
      ],
    );
    expectValues(
      dv!,
      [1, 4, 2],
      [1.2022442123759973, 1.117953699007979, 0.04775578762400265, 0.3820463009920212, 0, 0, 0, 0],
    );
  });

  it("matches a boolean attn_mask, given as int32 0/1 (1 takes part)", () => {
    // PyTorch 1.13 F._scaled_dot_product_attention(q, k, v, m, 0.0, False, False) with
    // m = [[True, False, True, True], [False, True, True, False]].
    const mask = tensor(
      [
        [1, 0, 1, 1],
        [0, 1, 1, 0],
      ],
      { dtype: "int32" },
    );
    const { y, grads } = valueAndGrads({ mask });
    expectValues(
      y,
      [1, 2, 2],
      [-0.26281113175238313, 0.656532497559057, -0.30403281332466536, 0.8040328133246653],
    );
    const [dq, dk, dv] = grads;
    expectValues(
      dq!,
      [1, 2, 3],
      [
        0.42812315911132476, 0.6681399750564716, -0.43317769070456713, 0.09422989519303755,
        -0.9422989519303756, 0.0942298951930376,
      ],
    );
    expectValues(
      dk!,
      [1, 4, 3],
      [
        0.13045876037069437, -0.26091752074138874, 0.06522938018534719, -0.5653793711582253, 0,
        0.1884597903860751, 0.39311920119504706, 0.3445203399263568, -0.2745898753676643,
        0.04180140959248401, -0.08360281918496802, 0.020900704796242005,
      ],
    );
    expectValues(
      dv!,
      [1, 4, 2],
      [
        0.174414861518423, -0.0872074307592115, 0.11599453111255575, 0.927956248900446,
        0.6489032912004046, 0.8145948399430736, 0.31068731616861667, -0.15534365808430833,
      ],
    );
  });

  it("adds a float mask and uses the given scale, with the mask's gradient", () => {
    // PyTorch 1.13: torch.softmax(q @ k.transpose(-1, -2) * 0.7 + m, -1) @ v and autograd of
    // (y * w).sum(), with m = [[0.5, -1, 0, 0.25], [-0.5, 0.75, 1, -2]] (requires_grad).
    const mask = f64([
      [0.5, -1, 0, 0.25],
      [-0.5, 0.75, 1, -2],
    ]);
    const { y, grads } = valueAndGrads({ mask, scale: 0.7 });
    expectValues(
      y,
      [1, 2, 2],
      [-0.1613286555576126, 0.5166608431682872, 0.16351172275429338, -0.09095983527274351],
    );
    expectValues(
      grads[0]!,
      [1, 2, 3],
      [
        0.46893746713900963, 0.8400958522352883, -0.5502449562711335, -0.4970092390065148,
        -1.2845140778551851, 1.1708192697627295,
      ],
    );
    expectValues(
      grads[3]!,
      [2, 4],
      [
        0.48899876337624326, 0.02348192700419746, -0.6058718832385649, 0.09339119285812424,
        -1.2095972979299772, 0.05408308881201811, 0.8989617733418357, 0.25655243577612313,
      ],
    );
  });

  it("gives NaN for a row with nothing to attend to, and NaN gradients, as PyTorch 1.13", () => {
    // PyTorch 1.13 with m = [[False] * 4, [True, True, False, False]]: y[0] = [nan, nan], y[1]
    // finite; dq[0] nan and dq[1] finite; dk and dv nan throughout.
    const mask = tensor(
      [
        [0, 0, 0, 0],
        [1, 1, 0, 0],
      ],
      { dtype: "int32" },
    );
    const { y, grads } = valueAndGrads({ mask });
    const values = Array.from(y.data);
    expect(values.slice(0, 2).every(Number.isNaN)).toBe(true);
    expect(values.slice(2).every(Number.isFinite)).toBe(true);
    const [dq, dk, dv] = grads.map((g) => Array.from(g.data));
    expect(dq!.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(dq!.slice(3).every(Number.isFinite)).toBe(true);
    expect(dk!.every(Number.isNaN) && dv!.every(Number.isNaN)).toBe(true);
  });
});

// Heads [2, 3], 5 queries, 6 keys: every kind of mask, broadcast in several ways.
const lead = [2, 3];
const q1 = normal(1, [...lead, 5, 4]);
const k1 = normal(2, [...lead, 6, 4]);
const v1 = normal(3, [...lead, 6, 3]);

/** int32 0/1 of `shape` from randomKey(seed), with key 0 always attended (no empty row). */
function keepMask(seed: number, shape: number[]): Tensor {
  const data = randomBernoulli(randomKey(seed), 0.6, shape, { dtype: "int32" }).data;
  const lk = shape[shape.length - 1]!;
  for (let t = 0; t < data.length; t += lk) data[t] = 1;
  return tensor(data, { dtype: "int32", shape });
}

const cases: [string, ScaledDotProductAttentionOptions][] = [
  ["no mask", {}],
  ["causal", { causal: true }],
  ["scale 0.3", { scale: 0.3 }],
  ["int32 mask of the full shape", { mask: keepMask(4, [...lead, 5, 6]) }],
  ["int32 mask shared by the heads and queries", { mask: keepMask(5, [3, 1, 6]) }],
  ["float mask [Lq, Lk]", { mask: normal(6, [5, 6]) }],
  ["float mask per batch [2, 1, Lq, Lk], causal", { mask: normal(7, [2, 1, 5, 6]), causal: true }],
  ["int32 mask and causal, scale 2", { mask: keepMask(8, [5, 6]), causal: true, scale: 2 }],
];

describe("scaledDotProductAttention against the formula composed from matmul and softmax", () => {
  for (const [name, options] of cases) {
    it(`${name}: values and gradients agree (float64, 1e-12)`, () => {
      expectClose(scaledDotProductAttention(q1, k1, v1, options), reference(q1, k1, v1, options));
      const w = normal(9, [...lead, 5, 3]);
      const float = options.mask !== undefined && options.mask.dtype !== "int32";
      const argnums = float ? [0, 1, 2, 3] : [0, 1, 2];
      const loss = (f: typeof reference) => (q: Tensor, k: Tensor, v: Tensor, mask: Tensor) =>
        sum(mul(f(q, k, v, { ...options, ...(options.mask && { mask }) }), w));
      const mask = options.mask ?? f64(0);
      const got = grad(loss(scaledDotProductAttention), { argnums })(q1, k1, v1, mask);
      const expected = grad(loss(reference), { argnums })(q1, k1, v1, mask);
      got.forEach((g, i) => expectClose(g, expected[i]!));
    });
  }

  it("Lq > Lk and Lq < Lk, causal (top-left aligned)", () => {
    for (const [lq, lk] of [
      [6, 3],
      [2, 5],
    ] as const) {
      const [q, k, v] = [normal(10, [2, lq, 3]), normal(11, [2, lk, 3]), normal(12, [2, lk, 2])];
      const options = { causal: true };
      expectClose(scaledDotProductAttention(q, k, v, options), reference(q, k, v, options));
    }
  });

  it("second derivatives agree with the composite's", () => {
    const options = { mask: normal(13, [5, 6]), causal: true };
    const r = normal(14, [...lead, 5, 4]);
    // The gradient of ⟨∂L/∂q, r⟩ with respect to q, k, v and the mask: second order throughout.
    const second = (f: typeof reference) =>
      grad(
        (q: Tensor, k: Tensor, v: Tensor, mask: Tensor) => {
          const dq = grad((x: Tensor) => sum(square(f(x, k, v, { ...options, mask }))))(q);
          return sum(mul(dq, r));
        },
        { argnums: [0, 1, 2, 3] },
      )(q1, k1, v1, options.mask);
    const expected = second(reference);
    second(scaledDotProductAttention).forEach((g, i) => expectClose(g, expected[i]!, 1e-10));
  });

  it("dropout: the mask is randomBernoulli(key, 1 − rate, [..., Lq, Lk]), drawn again", () => {
    const options = { dropout: { rate: 0.3, key: randomKey(15) }, mask: normal(16, [5, 6]) };
    expectClose(scaledDotProductAttention(q1, k1, v1, options), reference(q1, k1, v1, options));
    const loss = (f: typeof reference) => (q: Tensor, k: Tensor, v: Tensor) =>
      sum(square(f(q, k, v, options)));
    const expected = grad(loss(reference), { argnums: [0, 1, 2] })(q1, k1, v1);
    grad(loss(scaledDotProductAttention), { argnums: [0, 1, 2] })(q1, k1, v1).forEach((g, i) =>
      expectClose(g, expected[i]!),
    );
    // Rate 0 is no dropout at all.
    expectClose(
      scaledDotProductAttention(q1, k1, v1, { dropout: { rate: 0, key: randomKey(15) } }),
      reference(q1, k1, v1),
    );
  });

  it("float32 agrees with float64 to float32 precision; int32 inputs compute in float32", () => {
    const options = { mask: keepMask(17, [5, 6]), causal: true };
    const [q, k, v] = [q1, k1, v1].map((x) => cast(x, "float32"));
    const y = scaledDotProductAttention(q!, k!, v!, options);
    expect(y.dtype).toBe("float32");
    expectClose(cast(y, "float64"), reference(q1, k1, v1, options), 1e-5);
    const dq = grad((x: Tensor) => sum(square(scaledDotProductAttention(x, k!, v!, options))))(q!);
    expect(dq.dtype).toBe("float32");
    const dq64 = grad((x: Tensor) => sum(square(reference(x, k1, v1, options))))(q1);
    expectClose(cast(dq, "float64"), dq64, 1e-4);
    const ints = tensor(
      [
        [
          [1, 0],
          [0, 2],
        ],
      ],
      { dtype: "int32" },
    );
    const yi = scaledDotProductAttention(ints, ints, ints);
    expect(yi.dtype).toBe("float32");
    expectClose(
      cast(yi, "float64"),
      reference(cast(ints, "float64"), cast(ints, "float64"), cast(ints, "float64")),
      1e-6,
    );
  });
});

describe("scaledDotProductAttention's memory", () => {
  it("keeps only y and the row log-sum-exp for the gradient: no [heads, Lq, Lk] tensor", () => {
    const [heads, l, e] = [4, 64, 8];
    const q = normal(20, [heads, l, e]);
    const k = normal(21, [heads, l, e]);
    const v = normal(22, [heads, l, e]);
    const loss = (f: typeof reference) => (x: Tensor) => sum(f(x, k, v, { causal: true }));
    const fused = profileTape(() => grad(loss(scaledDotProductAttention))(q));
    // The tape holds y [4, 64, 8], lse [4, 64] and the scalar loss, all float64.
    expect(fused.peakBytes).toBe(8 * (heads * l * e + heads * l + 1));
    expect(fused.peakBytes).toBeLessThan(8 * heads * l * l);
    // The same gradient from the composite keeps the scores of every head.
    const composite = profileTape(() => grad(loss(reference))(q));
    expect(composite.peakBytes).toBeGreaterThan(8 * heads * l * l);
    expectClose(fused.value, composite.value);
    expect(getOp("scaledDotProductAttention")!.definition.outputs).toEqual(["y", "lse"]);
  });
});

describe("scaledDotProductAttentionBackward", () => {
  it("gives the gradients of y and of the row log-sum-exp", () => {
    const options = { mask: normal(23, [5, 6]), causal: true };
    const op = getOp("scaledDotProductAttentionMasked")!;
    const [y, lse] = op.apply([q1, k1, v1, options.mask], { causal: true }) as Tensor[];
    const dy = normal(24, y!.shape as number[]);
    const dlse = normal(25, lse!.shape as number[]);
    const [dq, dk, dv, dmask] = scaledDotProductAttentionBackward(
      dy,
      q1,
      k1,
      v1,
      y!,
      lse!,
      dlse,
      options,
    );
    // The reference: Σ dy∘y + Σ dlse∘logsumexp(s), differentiated through the composite.
    const loss = (q: Tensor, k: Tensor, v: Tensor, mask: Tensor) => {
      let s = add(mul(matmul(q, k, { transB: true }), 0.5), mask);
      s = where(lowerTriangle(5, 6), s, -Infinity);
      const out = sum(mul(reference(q, k, v, { mask, causal: true }), dy));
      return add(out, sum(mul(logSumExp(s, { axis: -1 }), dlse)));
    };
    const expected = grad(loss, { argnums: [0, 1, 2, 3] })(q1, k1, v1, options.mask);
    [dq, dk, dv, dmask].forEach((g, i) => expectClose(g!, expected[i]!));
  });
});

describe("scaledDotProductAttention under vmap", () => {
  it("equals the op on each slice, dropout included (each slice draws its own heads' mask)", () => {
    const options = { dropout: { rate: 0.25, key: randomKey(30) }, causal: true };
    const qs = normal(31, [3, ...lead, 5, 4]);
    const f = (q: Tensor) => scaledDotProductAttention(q, k1, v1, options);
    expectClose(vmap(f)(qs), stack([0, 1, 2].map((b) => f(sliceOf(qs, b)))));
    const g = grad((q: Tensor) => sum(square(f(q))));
    expectClose(vmap(g)(qs), stack([0, 1, 2].map((b) => g(sliceOf(qs, b)))));
  });
});

describe("scaledDotProductAttention's errors name the argument and the shapes", () => {
  const q = normal(40, [2, 3, 4]);
  const k = normal(41, [2, 5, 4]);
  const v = normal(42, [2, 5, 2]);

  it("rejects q and k of different feature sizes", () => {
    const error = caught(() => scaledDotProductAttention(q, normal(43, [2, 5, 3]), v));
    expect(error.code).toBe("SHAPE_MISMATCH");
    expect(error.message).toBe(
      "scaledDotProductAttention: q and k must have the same feature size E (last axis): " +
        "q is [2,3,4], k is [2,5,3]",
    );
  });

  it("rejects k and v of different numbers of keys", () => {
    const error = caught(() => scaledDotProductAttention(q, k, normal(44, [2, 6, 2])));
    expect(error.code).toBe("SHAPE_MISMATCH");
    expect(error.message).toBe(
      "scaledDotProductAttention: k and v must have the same number of keys Lk " +
        "(second-to-last axis): k is [2,5,4], v is [2,6,2]",
    );
  });

  it("rejects different leading axes and inputs of rank below 2", () => {
    expect(caught(() => scaledDotProductAttention(q, normal(45, [3, 5, 4]), v)).message).toBe(
      "scaledDotProductAttention: q, k and v must have the same leading (batch, head) axes: " +
        "q is [2,3,4], k is [3,5,4], v is [2,5,2]",
    );
    expect(caught(() => scaledDotProductAttention(normal(46, [4]), k, v)).message).toBe(
      "scaledDotProductAttention: q must have shape [..., Lq, E] (rank 2 or more), got [4]",
    );
  });

  it("rejects a mask that does not broadcast to the scores, naming both shapes", () => {
    const error = caught(() => scaledDotProductAttention(q, k, v, { mask: normal(47, [3, 4]) }));
    expect(error.code).toBe("SHAPE_MISMATCH");
    expect(error.message).toBe(
      "scaledDotProductAttention: mask of shape [3,4] does not broadcast to the scores' shape " +
        "[2,3,5] ([..., Lq, Lk])",
    );
    expect(
      caught(() => scaledDotProductAttention(q, k, v, { mask: [1] as unknown as Tensor })).message,
    ).toBe("scaledDotProductAttention: mask must be a Tensor, got [1]");
  });

  it("rejects bad options", () => {
    const bad: [ScaledDotProductAttentionOptions, string][] = [
      [{ causal: 1 as unknown as boolean }, "causal must be a boolean, got 1"],
      [{ scale: NaN }, "scale must be a finite number, got NaN"],
      [
        { dropout: { rate: 1, key: randomKey(0) } },
        "dropout.rate must be a number in [0, 1), got 1",
      ],
      [
        { dropout: { rate: 0.5, key: normal(0, [2]) } },
        "dropout.key must be an int32 key of shape [2] (from randomKey or splitKey), got a " +
          "float64 tensor of shape [2]",
      ],
    ];
    for (const [options, message] of bad) {
      const error = caught(() => scaledDotProductAttention(q, k, v, options));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toBe(`scaledDotProductAttention: ${message}`);
    }
  });

  it("the backward op names a cotangent of the wrong shape", () => {
    const y = scaledDotProductAttention(q, k, v);
    const lse = normal(48, [2, 3]);
    const error = caught(() =>
      scaledDotProductAttentionBackward(normal(49, [2, 3, 3]), q, k, v, y, lse, lse),
    );
    expect(error.code).toBe("SHAPE_MISMATCH");
    expect(error.message).toBe(
      "scaledDotProductAttentionBackward: dy must have shape [2,3,2] (from q, k and v), " +
        "got [2,3,3]",
    );
  });
});
