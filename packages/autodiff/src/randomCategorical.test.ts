import { describe, expect, it } from "vitest";
import {
  TapegradError,
  categorical,
  gather,
  grad,
  mul,
  randomKey,
  splitKey,
  stack,
  sum,
  tensor,
  vmap,
  type Tensor,
} from "./index.js";

function errorOf(f: () => unknown): TapegradError {
  try {
    f();
  } catch (e) {
    if (e instanceof TapegradError) return e;
    throw e;
  }
  throw new Error("expected a TapegradError");
}

/** How often each class 0…n−1 occurs in `draws`. */
function counts(draws: ArrayLike<number>, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (let i = 0; i < draws.length; i++) out[draws[i]!]! += 1;
  return out;
}

/** Pearson's χ² statistic of observed counts against probabilities p. */
function chiSquare(observed: readonly number[], p: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((s, o, i) => s + (o - total * p[i]!) ** 2 / (total * p[i]!), 0);
}

// Upper 0.1% points of the χ² distribution (NIST/SEMATECH e-Handbook, table 1.3.6.7.4):
// 3 degrees of freedom 16.266, 2 degrees 13.816. The keys are fixed, so the tests are too.
const CHI2_3DF = 16.266;
const CHI2_2DF = 13.816;

const key = randomKey(42);

describe("categorical", () => {
  it("draws classes with the softmax probabilities of the logits (χ² test, 3 dof)", () => {
    const p = [0.1, 0.2, 0.3, 0.4];
    // softmax(log p) = p, shifted by any constant.
    const logits = tensor(
      p.map((v) => Math.log(v) + 3),
      { dtype: "float64" },
    );
    const draws = categorical(key, logits, { shape: [20000] });
    expect(draws.dtype).toBe("int32");
    expect(draws.shape).toEqual([20000]);
    expect(chiSquare(counts(draws.data, 4), p)).toBeLessThan(CHI2_3DF);
  });

  it("each row of a batch of logits draws from its own distribution, float32 too", () => {
    const p = [
      [0.7, 0.2, 0.1],
      [0.25, 0.25, 0.5],
    ];
    const logits = tensor(p.map((row) => row.map(Math.log)));
    const draws = categorical(key, logits, { shape: [10000, 2] });
    expect(draws.shape).toEqual([10000, 2]);
    const rows = draws.toArray() as number[][];
    for (const r of [0, 1]) {
      const column = rows.map((pair) => pair[r]!);
      expect(chiSquare(counts(column, 3), p[r]!)).toBeLessThan(CHI2_2DF);
    }
  });

  it("the classes may lie along any axis; −Infinity logits are never drawn", () => {
    // Classes along axis 0: column 0 favours class 2 overwhelmingly, column 1 class 0.
    const logits = tensor([
      [0, 40],
      [0, 0],
      [40, 0],
    ]);
    expect(categorical(key, logits, { axis: 0 }).toArray()).toEqual([2, 0]);
    const masked = tensor([0, -Infinity, 0, -Infinity]);
    const draws = categorical(key, masked, { shape: [1000] });
    expect(counts(draws.data, 4)[1]).toBe(0);
    expect(counts(draws.data, 4)[3]).toBe(0);
  });

  it("the default shape is logits' without the classes axis; others broadcast", () => {
    const logits = tensor([
      [0, 1, 2],
      [2, 1, 0],
    ]);
    expect(categorical(key, logits).shape).toEqual([2]);
    expect(categorical(key, logits, { axis: 0 }).shape).toEqual([3]);
    expect(categorical(key, logits, { shape: [5, 2] }).shape).toEqual([5, 2]);
    // A size-1 axis of logits broadcasts to the shape's.
    expect(categorical(key, tensor([[0, 1, 2]]), { shape: [4] }).shape).toEqual([4]);
    expect(categorical(key, tensor([0, 1]), { shape: [] }).shape).toEqual([]);
  });

  it("is a function of the key: the same key draws the same, others differ", () => {
    const logits = tensor([0, 0, 0, 0, 0, 0, 0, 0]);
    const first = categorical(key, logits, { shape: [64] });
    expect(categorical(key, logits, { shape: [64] }).toArray()).toEqual(first.toArray());
    const [k1, k2] = [gather(splitKey(key), 0), gather(splitKey(key), 1)];
    const a = categorical(k1, logits, { shape: [64] }).toArray();
    const b = categorical(k2, logits, { shape: [64] }).toArray();
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(first.toArray());
  });

  it("a batch of keys draws one stream per key, as vmap over the keys does", () => {
    const logits = tensor([0.5, -0.5, 1]);
    const keys = splitKey(key, 3);
    const batched = categorical(keys, logits, { shape: [6] });
    expect(batched.shape).toEqual([3, 6]);
    const each = stack([0, 1, 2].map((i) => categorical(gather(keys, i), logits, { shape: [6] })));
    expect(batched.toArray()).toEqual(each.toArray());
    const mapped = vmap((k: Tensor) => categorical(k, logits, { shape: [6] }))(keys);
    expect(mapped.toArray()).toEqual(each.toArray());
  });

  it("carries no gradient: logits under grad give int32 draws, constants to the tape", () => {
    const logits = tensor([0.1, 0.2, 0.3], { dtype: "float64" });
    const dlogits = grad((l: Tensor) => {
      const drawn = categorical(key, l, { shape: [4] });
      expect(drawn.dtype).toBe("int32");
      return sum(mul(l, 2));
    })(logits);
    expect(dlogits.toArray()).toEqual([2, 2, 2]);
  });

  it("errors name the argument, what was expected and what was got", () => {
    const logits = tensor([0, 1]);
    const dtype = errorOf(() => categorical(tensor([1, 2]), logits));
    expect(dtype.code).toBe("DTYPE_MISMATCH");
    expect(dtype.message).toBe(
      "categorical: key must be an int32 key from randomKey or splitKey, got float32",
    );
    expect(errorOf(() => categorical(tensor([1, 2, 3], { dtype: "int32" }), logits)).message).toBe(
      "categorical: key must have shape [2], or [..., 2] for a batch of keys, got [3]",
    );
    expect(errorOf(() => categorical(key, tensor(1))).message).toBe(
      "categorical: logits is a scalar; it needs an axis of classes",
    );
    expect(errorOf(() => categorical(key, tensor([], { shape: [2, 0] }))).message).toBe(
      "categorical: logits of shape [2,0] has no classes along axis 1",
    );
    expect(errorOf(() => categorical(key, logits, { axis: 1 })).message).toBe(
      "categorical: axis 1 is out of range for a tensor of rank 1",
    );
    expect(
      errorOf(() =>
        categorical(key, tensor([[0], [1]]), {
          shape: [3],
        }),
      ).message,
    ).toBe(
      "categorical: shape [3] does not take logits of shape [2,1]: their axes but the classes " +
        "axis 1, [2], must broadcast to its trailing axes",
    );
    expect(errorOf(() => categorical(key, logits, { shape: [-1] })).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => categorical(key, [0, 1] as unknown as Tensor)).message).toBe(
      "categorical: logits must be a Tensor, got [0,1]",
    );
  });
});
