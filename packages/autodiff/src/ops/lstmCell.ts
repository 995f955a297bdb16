import { kernels } from "../backends/backend.js";
import type { FloatArray } from "../dtype.js";
import { defineOp, type BatchResult } from "../registry.js";
import type { Tensor, TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { add, mul, sub } from "./binary.js";
import { allInFront, blocksOf, cellOf, cellSample } from "./cells.js";
import { concat } from "./concat.js";
import { square } from "./unary.js";
import { floatData, isUnusedCotangent, unfilled } from "./util.js";

// One step of an LSTM's gate arithmetic as one op, so that a recurrent layer's time loop records
// two tape entries per step instead of a dozen and runs one kernel each way. gates holds the
// pre-activations [..., 4·H] in PyTorch's order i, f, g, o; c is the cell state [..., H]. The
// forward also returns the activations [i, f, g, o, tanh(c′)] ([..., 5·H]), the residuals the
// backward op takes (as the composed step's tape would keep them), so that the backward pass is
// plain arithmetic and second order flows through the activations' own vjp.

/** lstmCellBackward's arithmetic with primitive ops: what its vjp differentiates. */
function backwardComposite(acts: Tensor, c: Tensor, dh: Tensor, dcNext: Tensor) {
  const [i, f, g, o, t] = blocksOf(acts, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
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
  const [i, f, g, o, t] = blocksOf(acts, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const [di, df, dg, dO, dt] = blocksOf(dacts!, 5) as [Tensor, Tensor, Tensor, Tensor, Tensor];
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

const lstmCellOp = defineOp({
  name: "lstmCell",
  inputs: ["gates", "c"],
  outputs: ["h", "cNext", "acts"],
  forward: ([gates, c]) => {
    const { rows, hidden } = cellOf("lstmCell", "i, f, g, o", [
      ["gates", gates, 4],
      ["c", c, 1],
    ]);
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
    cellSample(kit, [{ blocks: 4, range: 3 }, { blocks: 1 }]).map(([gates, c]) => ({
      inputs: [gates, c],
      attrs: {},
    })),
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
    const { rows, hidden } = cellOf(op, "i, f, g, o, tanh(c′)", [
      ["acts", acts, 5],
      ["c", c, 1],
      ["dh", dh, 1],
      ["dcNext", dcNext, 1],
    ]);
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
    cellSample(kit, [{ blocks: 5, range: 1 }, { blocks: 1 }, { blocks: 1 }, { blocks: 1 }]).map(
      ([acts, c, dh, dcNext]) => ({
        inputs: [acts, c, dh, dcNext],
        attrs: {},
      }),
    ),
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
