import { argumentError, shapeError, show, showShape } from "../errors.js";
import { defineOp, type BatchContext, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { batchFirst } from "./transpose.js";
import { produce } from "./util.js";

/** The diagonal that bounds the kept triangle: 0 the main one, k > 0 above it, k < 0 below. */
export interface TriangleAttrs {
  /** Diagonal offset (default 0), as torch.tril/triu's `diagonal`. */
  readonly k?: number;
}

type Side = "tril" | "triu";

/** Requires matrices (rank ≥ 2: a slice's shape, under vmap) and an integer k. */
function checkTriangle(op: Side, shape: readonly number[], k: unknown): void {
  if (shape.length < 2) {
    throw shapeError(
      op,
      `x must have at least 2 axes (a matrix or a batch of matrices), got shape ` +
        showShape(shape),
    );
  }
  if (typeof k !== "number" || !Number.isInteger(k)) {
    throw argumentError(op, `k must be an integer, got ${show(k)}`);
  }
}

/**
 * Copies the elements of each matrix (x's last two axes) on the kept side of diagonal k and
 * leaves the rest 0: element (i, j) lies on diagonal j − i.
 */
function triangleForward(op: Side, x: Tensor, { k = 0 }: TriangleAttrs): Tensor {
  checkTriangle(op, x.shape, k);
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  const values = x.buffer;
  return produce(x.dtype, x.shape, (out) => {
    for (let start = 0; start < x.size; start += rows * cols) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const kept = op === "tril" ? j - i <= k : j - i >= k;
          if (kept) out[start + i * cols + j] = values[start + i * cols + j]!;
        }
      }
    }
  });
}

/**
 * tril/triu over a batch: a batch axis among the leading axes stays where it is (those axes are
 * a batch of matrices already); one of the matrix axes goes to the front.
 */
function triangleBatch(op: Side, apply: (x: Tensor, attrs: TriangleAttrs) => Tensor) {
  return ({ inputs: [x], axes: [b], attrs }: TriangleBatchContext): BatchResult<SingleOutput> => {
    // The batched x has a rank more than a slice: a vector slice must still be rejected.
    checkTriangle(
      op,
      x.shape.filter((_, i) => i !== b),
      attrs.k ?? 0,
    );
    if (b! < x.ndim - 2) return { y: apply(x, attrs), axes: [b!] };
    return { y: apply(batchFirst(x, b!), attrs), axes: [0] };
  };
}

type TriangleBatchContext = BatchContext<readonly ["x"], TriangleAttrs>;

/** Matrices or batches of them, with k from below the last row to beyond the last column. */
function triangleSamples(kit: SampleKit) {
  const { fc } = kit;
  return kit
    .shape({ minRank: 2 })
    .chain((shape) => {
      const rows = shape[shape.length - 2]!;
      const cols = shape[shape.length - 1]!;
      return fc.tuple(kit.tensor(shape), fc.integer({ min: -rows - 1, max: cols + 1 }));
    })
    .map(([x, k]) => ({ inputs: [x], attrs: { k } }));
}

// Each is a mask, so its own transpose: the gradient keeps exactly the elements the forward kept.
const trilOp = defineOp({
  name: "tril",
  inputs: ["x"],
  forward: ([x], attrs: TriangleAttrs) => triangleForward("tril", x, attrs),
  vjp: ({ dy, attrs }) => [tril(dy, attrs)],
  batch: triangleBatch("tril", (x, attrs): Tensor => trilOp(x, attrs)),
  samples: triangleSamples,
});

const triuOp = defineOp({
  name: "triu",
  inputs: ["x"],
  forward: ([x], attrs: TriangleAttrs) => triangleForward("triu", x, attrs),
  vjp: ({ dy, attrs }) => [triu(dy, attrs)],
  batch: triangleBatch("triu", (x, attrs): Tensor => triuOp(x, attrs)),
  samples: triangleSamples,
});

/**
 * The lower triangle of each matrix in x's last two axes: element (i, j) where j − i ≤ k
 * (default 0), the rest 0, as torch.tril. Rank ≥ 2. Gradient: tril(dy, { k }).
 */
export function tril(x: TensorLike, attrs: TriangleAttrs = {}): Tensor {
  return trilOp(x, attrs);
}

/**
 * The upper triangle of each matrix in x's last two axes: element (i, j) where j − i ≥ k
 * (default 0), the rest 0, as torch.triu. Rank ≥ 2. Gradient: triu(dy, { k }).
 */
export function triu(x: TensorLike, attrs: TriangleAttrs = {}): Tensor {
  return triuOp(x, attrs);
}
