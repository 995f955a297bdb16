import { gather, tensor, type Tensor } from "@tapegrad/autodiff";
import { argumentError, shapeError, showShape } from "../errors.js";
import { checkIndex, type Dataset } from "./dataset.js";

/** A dataset over tensors that share their first axis; sample i is the list of their rows i. */
export interface TensorDataset extends Dataset<Tensor[]> {
  /** The tensors the samples are rows of, in the order given. */
  readonly tensors: readonly Tensor[];
  getBatch(indices: Int32Array): Tensor[];
}

/**
 * Samples are rows along axis 0: with images [N,C,H,W] and labels [N], sample i is
 * `[images[i] (shape [C,H,W]), labels[i] (shape [])]`. `getBatch` gathers the rows of a whole
 * batch with one copy per tensor (no per-sample tensors): the loader's fast path.
 */
export function tensorDataset(...tensors: Tensor[]): TensorDataset {
  const first = tensors[0];
  if (first === undefined) throw argumentError("tensorDataset", "needs at least one tensor");
  tensors.forEach((t, k) => {
    if (t.ndim === 0) {
      throw shapeError("tensorDataset", `tensor ${k} is a scalar; every tensor needs a first axis`);
    }
    if (t.shape[0] !== first.shape[0]) {
      throw shapeError(
        "tensorDataset",
        `tensor ${k} has shape ${showShape(t.shape)} but tensor 0 has ${showShape(first.shape)}: ` +
          `the first axes (the sample counts) must be equal`,
      );
    }
  });
  const saved = [...tensors];
  const length = first.shape[0]!;
  return {
    length,
    name: `tensorDataset(length ${length})`,
    tensors: saved,
    get(index) {
      checkIndex(this, index);
      return saved.map((t) => gather(t, index, 0));
    },
    getBatch(indices) {
      const rows = tensor(indices);
      return saved.map((t) => gather(t, rows, 0));
    },
  };
}
