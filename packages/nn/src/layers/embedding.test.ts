import { checkGrads } from "@tapegrad/autodiff/testing";
import { grad, mul, prng, sum, TapegradError, tensor, vmap, type Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { embedding, type EmbeddingParams } from "./embedding.js";

const table = () =>
  tensor(
    [
      [0, 0.5],
      [1, 1.5],
      [2, 2.5],
      [3, 3.5],
    ],
    { dtype: "float64" },
  );
const indices = (values: number[][]) => tensor(values, { dtype: "int32" });

describe("embedding", () => {
  it("looks up rows for int32 indices of any shape: [...] → [..., D]", () => {
    const layer = embedding({ numEmbeddings: 4, embeddingDim: 2 });
    const params = { weight: table() };
    // Row v of the table above is [v, v + 0.5].
    expect(layer.apply(params, indices([[3, 0, 3]])).toArray()).toEqual([
      [
        [3, 3.5],
        [0, 0.5],
        [3, 3.5],
      ],
    ]);
    expect(layer.apply(params, tensor(2, { dtype: "int32" })).toArray()).toEqual([2, 2.5]);
    const x = prng(0).randint(0, 4, [2, 3, 5]);
    expect(layer.apply(params, x).shape).toEqual([2, 3, 5, 2]);
  });

  it("inits weight [V, D] from N(0, 1) as PyTorch, with the paddingIdx row zeros", () => {
    const { params } = embedding({ numEmbeddings: 200, embeddingDim: 50, paddingIdx: 7 }).init(
      prng(1),
    );
    expect(params.weight.shape).toEqual([200, 50]);
    expect(params.weight.dtype).toBe("float32");
    const w = Array.from(params.weight.data);
    expect(w.slice(7 * 50, 8 * 50).every((v) => v === 0)).toBe(true);
    // 9950 draws from N(0, 1): the sample mean is within 0.05 and the std within 0.05 of 1.
    const rest = [...w.slice(0, 7 * 50), ...w.slice(8 * 50)];
    const m = rest.reduce((a, b) => a + b, 0) / rest.length;
    const sd = Math.sqrt(rest.reduce((a, b) => a + (b - m) ** 2, 0) / rest.length);
    expect(Math.abs(m)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
    // A negative paddingIdx counts from the end, as PyTorch's padding_idx.
    const last = embedding({ numEmbeddings: 5, embeddingDim: 3, paddingIdx: -1 }).init(prng(2));
    expect(Array.from(last.params.weight.data.slice(12))).toEqual([0, 0, 0]);
  });

  it("gives the paddingIdx row no gradient, and other rows one per occurrence", () => {
    const layer = embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: 1 });
    const x = indices([
      [1, 2, 1],
      [0, 2, 3],
    ]);
    // Padding positions embed as zeros (the table here has a non-zero row 1 on purpose; a
    // table from init has zeros there, where PyTorch's output is the same).
    expect(layer.apply({ weight: table() }, x).toArray()).toEqual([
      [
        [0, 0],
        [2, 2.5],
        [0, 0],
      ],
      [
        [0, 0.5],
        [2, 2.5],
        [3, 3.5],
      ],
    ]);
    const g = grad((p: EmbeddingParams) => sum(layer.apply(p, x)))({ weight: table() });
    // d sum / d weight[v] = (number of times v occurs)·[1, 1], except the padding row: 0.
    expect(g.weight.toArray()).toEqual([
      [1, 1],
      [0, 0],
      [2, 2],
      [1, 1],
    ]);
  });

  it("passes checkGrads (with and without paddingIdx)", () => {
    const x = indices([
      [0, 2, 1],
      [2, 2, 3],
    ]);
    const rng = prng(3);
    for (const paddingIdx of [undefined, 2]) {
      const layer = embedding({ numEmbeddings: 4, embeddingDim: 3, paddingIdx });
      const params = { weight: rng.normal([4, 3], { dtype: "float64" }) };
      const w = rng.normal([2, 3, 3], { dtype: "float64" });
      // Weighted so that every output element has its own coefficient in the loss.
      checkGrads((p: EmbeddingParams, i: Tensor) => mul(layer.apply(p, i), w), [params, x], {
        argnums: 0,
        order: 2,
      });
    }
  });

  it("works under vmap (the indices cannot be read there; gather still checks them)", () => {
    const layer = embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: 0 });
    const params = { weight: table() };
    const x = indices([
      [0, 1],
      [3, 2],
    ]);
    const mapped = vmap((i: Tensor) => layer.apply(params, i))(x);
    expect(mapped.toArray()).toEqual(layer.apply(params, x).toArray());
  });

  it("names the offending index and the vocabulary size", () => {
    const layer = embedding({ numEmbeddings: 4, embeddingDim: 2 });
    const params = { weight: table() };
    const call = () => layer.apply(params, indices([[0, 4]]));
    expect(call).toThrow(TapegradError);
    expect(call).toThrow(
      "embedding: index 4 is out of range for a vocabulary of 4 embeddings; expected 0 ≤ index < 4",
    );
    // gather would take −1 as the last row; PyTorch's embedding rejects it, and so does this.
    expect(() => layer.apply(params, indices([[-1]]))).toThrow(
      "embedding: index -1 is out of range for a vocabulary of 4 embeddings",
    );
    expect(() => layer.apply(params, tensor([0, 1]))).toThrow(
      "embedding: indices must be an int32 tensor, got float32",
    );
  });

  it("rejects bad options and params", () => {
    expect(() => embedding({ numEmbeddings: 0, embeddingDim: 2 })).toThrow(
      "embedding: numEmbeddings must be a positive integer, got 0",
    );
    expect(() => embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: 4 })).toThrow(
      "embedding: paddingIdx must be an integer in -4…3 (numEmbeddings 4), got 4",
    );
    const layer = embedding({ numEmbeddings: 4, embeddingDim: 2 });
    expect(() => layer.apply({ weight: tensor([[1, 2]]) }, indices([[0]]))).toThrow(
      "embedding: params.weight must have shape [4,2], got [1,2]",
    );
  });
});
