import { kernels } from "../backends/backend.js";
import type { FloatArray } from "../dtype.js";
import { dtypeError, shapeError, showShape } from "../errors.js";
import { defineOp, type BatchResult } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { shapesEqual } from "../shape.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { batchAt } from "./batching.js";
import { add, mul, sub } from "./binary.js";
import { concat } from "./concat.js";
import { split } from "./split.js";
import { square } from "./unary.js";
import { assertFloat, floatData, isUnusedCotangent, unfilled } from "./util.js";

// One step of an LSTM's gate arithmetic as one op, so that a recurrent layer's time loop records
// two tape entries per step instead of a dozen and runs one kernel each way. gates holds the
// pre-activations [..., 4·H] in PyTorch's order i, f, g, o; c is the cell state [..., H]. The
// forward also returns the activations [i, f, g, o, tanh(c′)] ([..., 5·H]), the residuals the
// backward op takes (as the composed step's tape would keep them), so that the backward pass is
// plain arithmetic and second order flows through the activations' own vjp.

interface Cell {
  /** Rows of the [rows, 4·H] view: the product of the leading shape. */
  readonly rows: number;
  readonly hidden: number;
}

/**
 * Checks the stacked input (gates [..., 4H], or acts [..., 5H]) and that every other input is
 * [..., H] of its dtype.
 */
function cellOf(
  op: string,
  [name, stacked, parts]: [string, Tensor, 4 | 5],
  others: Record<string, Tensor>,
): Cell {
  assertFloat(op, name, stacked);
  const last = stacked.shape[stacked.ndim - 1];
  if (last === undefined || last % parts !== 0 || last === 0) {
    const what = parts === 4 ? "i, f, g, o" : "i, f, g, o, tanh(c′)";
    throw shapeError(
      op,
      `${name} must be [..., ${parts}·hidden] (${what} stacked on the last axis), got ` +
        `${showShape(stacked.shape)}`,
    );
  }
  const hidden = last / parts;
  const shape = [...stacked.shape.slice(0, -1), hidden];
  for (const [other, t] of Object.entries(others)) {
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

/** The last axis of t cut into `parts` equal pieces. */
function pieces(t: Tensor, parts: number): Tensor[] {
  return split(t, t.shape[t.ndim - 1]! / parts, { axis: -1 });
}

/** lstmCellBackward's arithmetic with primitive ops: what its vjp differentiates. */
function backwardComposite(acts: Tensor, c: Tensor, dh: Tensor, dcNext: Tensor) {
  const [i, f, g, o, t] = pieces(acts, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const delta = add(dcNext, mul(mul(dh, o), sub(1, square(t))));
  const dgates = concat(
    [
      mul(mul(delta, g), mul(i, sub(1, i))),
      mul(mul(delta, c), mul(f, sub(1, f))),
      mul(mul(delta, i), sub(1, square(g))),
      mul(mul(dh, t), mul(o, sub(1, o))),
    ],
    -1,
  );
  return [dgates, mul(delta, f)] as const;
}

/**
 * lstmCell's gradient: lstmCellBackward for the cotangents of h′ and c′, plus, where something
 * used the activations (second order does), their own terms: σ′ = s(1 − s) and tanh′ = 1 − t²,
 * tanh(c′)'s passed on through c′.
 */
function lstmCellVjp(
  [dh, dcNext, dacts]: readonly Tensor[],
  c: Tensor,
  acts: Tensor,
): [Tensor, Tensor] {
  if (isUnusedCotangent(dacts!)) return [...lstmCellBackward(acts, c, dh!, dcNext!)];
  const [i, f, g, o, t] = pieces(acts, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const [di, df, dg, dO, dt] = pieces(dacts!, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const throughCell = add(dcNext!, mul(dt, sub(1, square(t))));
  const [dgates, dc] = lstmCellBackward(acts, c, dh!, throughCell);
  const direct = concat(
    [
      mul(di, mul(i, sub(1, i))),
      mul(df, mul(f, sub(1, f))),
      mul(dg, sub(1, square(g))),
      mul(dO, mul(o, sub(1, o))),
    ],
    -1,
  );
  return [add(dgates, direct), dc];
}

/** Every input with its batch axis in front (broadcast over the batch where unmapped). */
function allInFront(
  inputs: readonly Tensor[],
  axes: readonly (number | null | undefined)[],
  size: number,
): Tensor[] {
  return inputs.map((t, k) => batchAt(t, axes[k] ?? null, 0, size));
}

/**
 * A stacked tensor [..., parts·H] of values in [min, max] and `count` tensors of [..., H]: a
 * leading shape of rank 0–2.
 */
function cellSample(kit: SampleKit, parts: number, range: number, count: number) {
  return kit.fc
    .tuple(
      kit.shape({ minRank: 0, maxRank: 2, minDim: 1, maxDim: 3 }),
      kit.fc.integer({ min: 1, max: 3 }),
    )
    .chain(([lead, hidden]) =>
      kit.fc.tuple(
        kit.tensor([...lead, parts * hidden], { min: -range, max: range }),
        ...Array.from({ length: count }, () => kit.tensor([...lead, hidden])),
      ),
    );
}

const lstmCellOp = defineOp({
  name: "lstmCell",
  inputs: ["gates", "c"],
  outputs: ["h", "cNext", "acts"],
  forward: ([gates, c]) => {
    const { rows, hidden } = cellOf("lstmCell", ["gates", gates, 4], { c });
    const h = unfilled(gates.dtype, c.shape);
    const cNext = unfilled(gates.dtype, c.shape);
    const acts = unfilled(gates.dtype, [...c.shape.slice(0, -1), 5 * hidden]);
    kernels().lstmCell(
      floatData("lstmCell", "gates", gates),
      floatData("lstmCell", "c", c),
      rows,
      hidden,
      h.buffer as FloatArray,
      cNext.buffer as FloatArray,
      acts.buffer as FloatArray,
    );
    return [h, cNext, acts];
  },
  vjp: ({ dy, inputs: [, c], y: [, , acts] }) => lstmCellVjp(dy, c, acts),
  batch: ({ inputs, axes, size }): BatchResult<readonly ["h", "cNext", "acts"]> => {
    const [gates, c] = allInFront(inputs, axes, size);
    return { y: lstmCellOp(gates!, c!, {}), axes: [0, 0, 0] };
  },
  samples: (kit) =>
    cellSample(kit, 4, 3, 1).map(([gates, c]) => ({ inputs: [gates, c], attrs: {} })),
});

/**
 * One LSTM step's gate arithmetic (torch.nn.LSTMCell after its two matmuls), from the gate
 * pre-activations gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh ([..., 4H], PyTorch's order i, f, g, o)
 * and the cell state c ([..., H]): i, f, o = σ(·), g = tanh(·), c′ = f∘c + i∘g, h′ = o∘tanh(c′).
 * Returns [h′, c′, acts], acts = [i, f, g, o, tanh(c′)] stacked on the last axis ([..., 5H]).
 * One fused kernel; the gradient is lstmCellBackward.
 */
export function lstmCell(
  gates: TensorLike,
  c: TensorLike,
): readonly [h: Tensor, c: Tensor, acts: Tensor] {
  return lstmCellOp(gates, c, {});
}

const lstmCellBackwardOp = defineOp({
  name: "lstmCellBackward",
  inputs: ["acts", "c", "dh", "dcNext"],
  outputs: ["dgates", "dc"],
  forward: ([acts, c, dh, dcNext]) => {
    const op = "lstmCellBackward";
    const { rows, hidden } = cellOf(op, ["acts", acts, 5], { c, dh, dcNext });
    const dgates = unfilled(acts.dtype, [...c.shape.slice(0, -1), 4 * hidden]);
    const dc = unfilled(acts.dtype, c.shape);
    kernels().lstmCellBackward(
      floatData(op, "acts", acts),
      floatData(op, "c", c),
      floatData(op, "dh", dh),
      floatData(op, "dcNext", dcNext),
      rows,
      hidden,
      dgates.buffer as FloatArray,
      dc.buffer as FloatArray,
    );
    return [dgates, dc];
  },
  // Second order differentiates the same arithmetic written with primitive ops.
  vjp: ({ dy: cotangents, inputs: [acts, c, dh, dcNext] }) => {
    const [, pullback] = vjp(backwardComposite, acts, c, dh, dcNext);
    return pullback(cotangents);
  },
  batch: ({ inputs, axes, size }): BatchResult<readonly ["dgates", "dc"]> => {
    const [acts, c, dh, dcNext] = allInFront(inputs, axes, size);
    return { y: lstmCellBackwardOp(acts!, c!, dh!, dcNext!, {}), axes: [0, 0] };
  },
  // Activations as lstmCell makes them: σ in (0, 1), tanh in (−1, 1).
  samples: (kit) =>
    cellSample(kit, 5, 1, 3).map(([acts, c, dh, dcNext]) => ({
      inputs: [acts, c, dh, dcNext],
      attrs: {},
    })),
});

/**
 * The gradients of lstmCell's h′ and c′ for cotangents dh and dcNext, from its activations acts
 * ([..., 5H]) and the cell state c it was given: [dgates, dc]. With δ = dcNext + dh·o·(1 − t²),
 * dgates = [δ·g·i(1 − i), δ·c·f(1 − f), δ·i·(1 − g²), dh·t·o(1 − o)] and dc = δ·f. One fused
 * kernel; differentiable.
 */
export function lstmCellBackward(
  acts: TensorLike,
  c: TensorLike,
  dh: TensorLike,
  dcNext: TensorLike,
): readonly [dgates: Tensor, dc: Tensor] {
  return lstmCellBackwardOp(acts, c, dh, dcNext, {});
}
