import { dtypeError, shapeError, showShape } from "../errors.js";
import type { SampleKit } from "../sampling.js";
import { shapesEqual } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { batchAt } from "./batching.js";
import { split } from "./split.js";
import { assertFloat } from "./util.js";

// What the recurrent cell ops (lstmCell, gruCell and their backward ops) share: every input is
// [..., k·H] for the same leading shape and hidden size H, k blocks of H stacked on the last axis
// (k = 1 for a plain state), and the kernels view them as [rows, k·H].

/** An input of a cell op: its name, the tensor and how many blocks of H its last axis stacks. */
export type CellInput = readonly [name: string, t: Tensor, blocks: number];

/** The kernels' view of a cell op's inputs. */
export interface Cell {
  /** The product of the leading shape. */
  readonly rows: number;
  readonly hidden: number;
}

/**
 * Checks the inputs of a cell op: the first fixes H (its last axis is `blocks`·H, the blocks
 * named by `what`), the rest must be [..., blocks·H] for the same leading shape and dtype.
 */
export function cellOf(op: string, what: string, [first, ...rest]: readonly CellInput[]): Cell {
  const [name, stacked, blocks] = first!;
  assertFloat(op, name, stacked);
  const last = stacked.shape[stacked.ndim - 1];
  if (last === undefined || last === 0 || last % blocks !== 0) {
    throw shapeError(
      op,
      `${name} must be [..., ${blocks}·hidden] (${what} stacked on the last axis), got ` +
        `${showShape(stacked.shape)}`,
    );
  }
  const hidden = last / blocks;
  const lead = stacked.shape.slice(0, -1);
  for (const [other, t, k] of rest) {
    const shape = [...lead, k * hidden];
    if (!shapesEqual(t.shape, shape)) {
      throw shapeError(
        op,
        `${other} must be ${showShape(shape)} for ${name} ${showShape(stacked.shape)}, got ` +
          `${showShape(t.shape)}`,
      );
    }
    if (t.dtype !== stacked.dtype) {
      throw dtypeError(
        op,
        `${other} is ${t.dtype} but ${name} is ${stacked.dtype}: they must match`,
      );
    }
  }
  return { rows: stacked.size / last, hidden };
}

/** The last axis of t cut into `blocks` equal pieces. */
export function blocksOf(t: Tensor, blocks: number): Tensor[] {
  return split(t, t.shape[t.ndim - 1]! / blocks, { axis: -1 });
}

/** Every input with its batch axis in front (broadcast over the batch where unmapped). */
export function allInFront(
  inputs: readonly Tensor[],
  axes: readonly (number | null | undefined)[],
  size: number,
): Tensor[] {
  return inputs.map((t, k) => batchAt(t, axes[k] ?? null, 0, size));
}

/**
 * Inputs for a cell op's samples: one tensor [..., blocks·H] per entry, values in
 * [−range, range] (default: the kit's), for a leading shape of rank 0–2 and H of 1–3.
 */
export function cellSample(
  kit: SampleKit,
  inputs: readonly { readonly blocks: number; readonly range?: number }[],
) {
  return kit.fc
    .tuple(
      kit.shape({ minRank: 0, maxRank: 2, minDim: 1, maxDim: 3 }),
      kit.fc.integer({ min: 1, max: 3 }),
    )
    .chain(([lead, hidden]) =>
      kit.fc.tuple(
        ...inputs.map(({ blocks, range }) =>
          kit.tensor(
            [...lead, blocks * hidden],
            range === undefined ? {} : { min: -range, max: range },
          ),
        ),
      ),
    );
}
