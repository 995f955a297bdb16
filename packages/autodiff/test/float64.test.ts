import { readdirSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  abs,
  grad,
  leakyRelu,
  listOps,
  maximum,
  minimum,
  neg,
  relu,
  sign,
  step,
  sum,
  tensor,
  vjp,
  where,
  mul,
  add,
  Tensor,
  type ForwardResult,
  type RegisteredOp,
  type TensorLike,
} from "../src/index.js";
import { makeSampleKit } from "../src/testing/sampleKit.js";

// float64 stays float64. A plain number takes the dtype of the float tensors it meets
// (scalar.ts), so for float64 inputs no forward and no vjp may round anything to float32: every
// output and gradient is float64, and where the exact result is a float64 number (a copy, a
// negation, a choice between values, one product) it is that number bit for bit.

// The ops users define through the public defineOp are checked with the built-ins.
const customOps = new URL("./custom-ops/", import.meta.url);
for (const file of readdirSync(customOps).filter((f) => f.endsWith(".ts"))) {
  await import(new URL(file, customOps).href);
}

const kit = makeSampleKit(fc);

/** An op's result as a list: its one output, or each of several. */
const leavesOf = (y: Tensor | readonly Tensor[]): readonly Tensor[] =>
  Array.isArray(y) ? y : [y as Tensor];

const isFloat = (x: Tensor) => x.dtype !== "int32";

/**
 * Random multiples of 2^−29 in [−1, 1): 30 significant bits, which float64 holds exactly and
 * float32 (24 bits) almost never does, and whose sums of a few stay exact in float64 in any order.
 */
function dyadic(shape: readonly number[], seed: number): Tensor {
  let state = seed >>> 0;
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: size }, () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) % 2 ** 30;
    return (u - 2 ** 29) / 2 ** 29;
  });
  return tensor(values, { dtype: "float64", shape });
}

/** dyadic values with no zeros, for functions with a kink or a tie at 0. */
function dyadicNonZero(shape: readonly number[], seed: number): Tensor {
  const t = dyadic(shape, seed);
  return tensor(
    Array.from(t.data, (v) => (v === 0 ? 2 ** -29 : v)),
    { dtype: "float64", shape },
  );
}

function expectFloat64(what: string, x: Tensor): void {
  expect(x.dtype, what).toBe("float64");
}

/** Every element of x equals `expected` as a float64 number (±0 alike; NaN matches NaN). */
function expectExactly(what: string, x: Tensor, expected: readonly number[]): void {
  expectFloat64(what, x);
  const got = Array.from(x.data);
  expect(got.length, what).toBe(expected.length);
  got.forEach((v, i) => {
    if (!(v === expected[i] || (Number.isNaN(v) && Number.isNaN(expected[i])))) {
      throw new Error(`${what}: element ${i} is ${v}, expected exactly ${expected[i]}`);
    }
  });
}

// Leaves out the deliberately broken ops of secondOrder.test.ts, should a run share its registry.
const opsWithSamples = listOps().filter(
  (op) => op.definition.samples !== undefined && !op.definition.name.startsWith("secondOrderTest_"),
);

/** Calls op's forward and vjp rule directly (no tape, whose casts would hide a float32). */
function rawGradients(op: RegisteredOp, inputs: readonly Tensor[], attrs: unknown, seed: number) {
  const { definition } = op;
  const out = definition.forward(inputs, attrs);
  // forward returns its output(s), or { y, saved } to keep residuals for the vjp.
  const plain = out instanceof Tensor || Array.isArray(out);
  const y = plain ? out : (out as ForwardResult<unknown, readonly string[]>).y;
  const saved = plain ? undefined : (out as ForwardResult<unknown, readonly string[]>).saved;
  const ys = leavesOf(y);
  const dys = ys.map((t, k) => dyadic(t.shape, seed + k));
  const one = definition.outputs === undefined;
  return definition.vjp!({
    dy: one ? dys[0]! : dys,
    inputs,
    y: one ? ys[0]! : ys,
    attrs,
    saved,
    needsGrad: inputs.map(isFloat),
  });
}

describe("float64 inputs give float64 outputs and gradients, for every registered op", () => {
  it("the suite covers the elementwise, data-movement, convolution and normalisation ops", () => {
    const names = opsWithSamples.map((op) => op.definition.name);
    for (const name of ["leakyRelu", "maximum", "where", "pow", "gather", "pad", "matmul"]) {
      expect(names).toContain(name);
    }
    for (const name of ["conv2d", "fusedConv2dBackward", "maxPool2d", "batchNorm", "softmax"]) {
      expect(names).toContain(name);
    }
  });

  for (const op of opsWithSamples) {
    const { definition } = op;
    it(definition.name, () => {
      const cases = fc.tuple(definition.samples!(kit), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
      fc.assert(
        fc.property(cases, ([{ inputs, attrs }, seed]) => {
          const name = definition.name;
          for (const y of leavesOf(op.apply(inputs, attrs))) {
            // An int32 output (indices) carries no precision; every float output is float64.
            if (isFloat(y)) expectFloat64(`${name}: output`, y);
          }
          if (definition.vjp === undefined) return;

          // The rule itself, before the tape casts each gradient to its input's dtype.
          rawGradients(op, inputs, attrs, seed).forEach((g, i) => {
            if (g !== null && isFloat(inputs[i]!))
              expectFloat64(`${name}: vjp rule, input ${i}`, g);
          });

          // First order through vjp, with a float64 cotangent.
          const f = (...xs: Tensor[]) => op.apply(xs, attrs);
          const [y, pullback] = vjp(f, ...inputs);
          const ys = leavesOf(y);
          const dys = ys.map((t, k) => dyadic(t.shape, seed + k));
          const grads = pullback(Array.isArray(y) ? dys : dys[0]!);
          grads.forEach((g, i) => {
            if (isFloat(inputs[i]!)) expectFloat64(`${name}: vjp, input ${i}`, g);
          });

          // Second order: the gradient of ⟨vjp(dy), r⟩ with respect to the inputs and dy.
          const probes = inputs.map((x, i) => dyadic(x.shape, seed + 100 + i));
          const pairing = (xs: Tensor[], cts: Tensor[]): TensorLike => {
            const [out, back] = vjp(f, ...xs);
            const gs = back(Array.isArray(out) ? cts : cts[0]!);
            let total: TensorLike = 0;
            gs.forEach((g, i) => {
              if (isFloat(xs[i]!)) total = add(total, sum(mul(g, probes[i]!)));
            });
            return total;
          };
          const [dxs, ddys] = grad(pairing, { argnums: [0, 1] })([...inputs], dys);
          dxs.forEach((g, i) => {
            if (isFloat(inputs[i]!)) expectFloat64(`${name}: second order, input ${i}`, g);
          });
          ddys.forEach((g) => expectFloat64(`${name}: second order, cotangent`, g));
        }),
        { numRuns: 25 },
      );
    });
  }
});

describe("results that are exact in float64 are exact", () => {
  it("grad(x => sum(leakyRelu(x, 0.2))) at float64 [1, -1] is exactly [1, 0.2]", () => {
    const x = tensor([1, -1], { dtype: "float64" });
    expectExactly("gradient", grad((x: Tensor) => sum(leakyRelu(x, 0.2)))(x), [1, 0.2]);
  });

  // Each op with a JavaScript float64 reference for its value and its gradient (given dy),
  // elementwise: one comparison or one product, so the float64 result is exact.
  interface Reference {
    readonly op: (...xs: Tensor[]) => Tensor;
    /** Inputs from the generated shape and seed. */
    readonly inputs: (shape: number[], seed: number) => Tensor[];
    /** The value at one element, from the inputs' values there. */
    readonly value: (...xs: number[]) => number;
    /** The gradient of each input at one element, given dy there; absent: not differentiable. */
    readonly gradient?: (dy: number, ...xs: number[]) => number[];
  }
  const one = (shape: number[], seed: number) => [dyadicNonZero(shape, seed)];
  const two = (shape: number[], seed: number) => {
    const a = dyadicNonZero(shape, seed);
    const b = dyadicNonZero(shape, seed + 1);
    // No ties, where maximum and minimum split the gradient.
    const bv = Array.from(b.data, (v, i) => (v === a.data[i] ? v / 2 : v));
    return [a, tensor(bv, { dtype: "float64", shape })];
  };
  const alpha = 0.1 + 2 ** -40;
  const references: Record<string, Reference> = {
    relu: {
      op: relu,
      inputs: one,
      value: (x) => (x > 0 ? x : 0),
      gradient: (dy, x) => [x > 0 ? dy : 0],
    },
    leakyRelu: {
      op: (x) => leakyRelu(x, alpha),
      inputs: one,
      value: (x) => (x > 0 ? x : alpha * x),
      gradient: (dy, x) => [x > 0 ? dy : dy * alpha],
    },
    abs: { op: abs, inputs: one, value: Math.abs, gradient: (dy, x) => [dy * Math.sign(x)] },
    neg: { op: neg, inputs: one, value: (x) => -x, gradient: (dy) => [-dy] },
    sign: { op: sign, inputs: one, value: Math.sign },
    step: { op: step, inputs: one, value: (x) => (x > 0 ? 1 : 0) },
    maximum: {
      op: maximum,
      inputs: two,
      value: Math.max,
      gradient: (dy, a, b) => (a > b ? [dy, 0] : [0, dy]),
    },
    minimum: {
      op: minimum,
      inputs: two,
      value: Math.min,
      gradient: (dy, a, b) => (a < b ? [dy, 0] : [0, dy]),
    },
    where: {
      op: where,
      inputs: (shape, seed) => {
        const c = dyadic(shape, seed + 2);
        const condition = tensor(
          Array.from(c.data, (v) => (v > 0 ? 1 : 0)),
          { dtype: "int32", shape },
        );
        return [condition, dyadic(shape, seed), dyadic(shape, seed + 1)];
      },
      value: (c, a, b) => (c !== 0 ? a : b),
      gradient: (dy, c) => [0, c !== 0 ? dy : 0, c !== 0 ? 0 : dy],
    },
  };

  for (const [name, ref] of Object.entries(references)) {
    it(`${name} matches its float64 reference bit for bit, value and gradient`, () => {
      fc.assert(
        fc.property(kit.shape(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (shape, seed) => {
          const inputs = ref.inputs(shape, seed);
          const data = inputs.map((x) => Array.from(x.data));
          const at = (e: number) => data.map((d) => d[e]!);
          const size = data[0]!.length;
          const [y, pullback] = vjp(ref.op, ...inputs);
          const expected = Array.from({ length: size }, (_, e) => ref.value(...at(e)));
          expectExactly(`${name}: value`, y, expected);
          if (ref.gradient === undefined) return;
          const dy = dyadic(shape, seed + 3);
          const dyData = Array.from(dy.data);
          const grads = pullback(dy);
          const expectedGrads = Array.from({ length: size }, (_, e) =>
            ref.gradient!(dyData[e]!, ...at(e)),
          );
          grads.forEach((g, i) => {
            if (!isFloat(inputs[i]!)) return;
            const want = expectedGrads.map((gs) => gs[i]!);
            expectExactly(`${name}: gradient of input ${i}`, g, want);
          });
        }),
        { numRuns: 50 },
      );
    });
  }

  // Data movement copies elements, and its gradient sums dy over the copies. Run on inputs that
  // hold their own element numbers, an op shows where each output element comes from (pad's fill
  // marked −1); on dyadic inputs its float64 output must then be those elements bit for bit, and
  // each input's gradient the sum of dy over its copies, which dyadic dy keeps exact in any order.
  const dataMovement = ["reshape", "transpose", "slice", "pad", "concat", "gather", "broadcastTo"];
  for (const name of dataMovement) {
    const op = listOps().find((o) => o.definition.name === name)!;
    it(`${name} copies float64 values and sums their gradients exactly`, () => {
      const cases = fc.tuple(op.definition.samples!(kit), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
      fc.assert(
        fc.property(cases, ([{ inputs, attrs }, seed]) => {
          let offset = 0;
          const offsets: number[] = [];
          const numbered = inputs.map((x) => {
            if (!isFloat(x)) return x;
            offsets.push(offset);
            const start = offset;
            offset += x.size;
            return tensor(
              Array.from({ length: x.size }, (_, j) => start + j),
              { dtype: "float64", shape: x.shape },
            );
          });
          const fill = (attrs as { value?: number }).value;
          const markedAttrs = fill === undefined ? attrs : { ...(attrs as object), value: -1 };
          const source = Array.from((op.apply(numbered, markedAttrs) as Tensor).data);

          const values = inputs.map((x, i) => (isFloat(x) ? dyadic(x.shape, seed + i) : x));
          const flat = values.filter(isFloat).flatMap((x) => Array.from(x.data));
          const [y, pullback] = vjp((...xs: Tensor[]) => op.apply(xs, attrs) as Tensor, ...values);
          expectExactly(
            `${name}: value`,
            y,
            source.map((s) => (s === -1 ? fill! : flat[s]!)),
          );

          const dy = dyadic(y.shape, seed + 50);
          const sums = new Array<number>(flat.length).fill(0);
          Array.from(dy.data).forEach((d, j) => {
            if (source[j] !== -1) sums[source[j]!] += d;
          });
          let k = 0;
          pullback(dy).forEach((g, i) => {
            if (!isFloat(values[i]!)) return;
            const start = offsets[k++]!;
            expectExactly(`${name}: gradient of input ${i}`, g, sums.slice(start, start + g.size));
          });
        }),
        { numRuns: 50 },
      );
    });
  }
});
