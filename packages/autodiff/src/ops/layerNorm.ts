import { kernels } from "../backends/backend.js";
import type { FloatArray } from "../dtype.js";
import { argumentError, dtypeError, shapeError, showShape } from "../errors.js";
import { defineOp, type BatchResult } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { shapesEqual } from "../shape.js";
import { full, type Tensor, type TensorLike } from "../tensor.js";
import { vjp } from "../transforms.js";
import { batchAt, broadcastBatched } from "./batching.js";
import { add, mul, sub } from "./binary.js";
import { mean, sum } from "./reduce.js";
import { reshape } from "./reshape.js";
import { assertFloat, floatData, isUnusedCotangent, unfilled } from "./util.js";

// Layer normalisation normalises each row of x over its trailing axes, as many as weight has
// (weight's shape is the normalised shape, as in PyTorch's F.layer_norm). weight and bias are
// always inputs: a layer without an elementwise affine passes ones and zeros, which keeps one op
// (and one kernel) instead of four variants. The forward also returns the per-row mean and
// rstd = 1/√(var + eps), the residuals layerNormBackward takes as inputs, so that the backward
// op is a plain function of its inputs and second order flows through the statistics' own vjp.

/** Options of layerNorm and layerNormBackward. */
export interface LayerNormAttrs {
  /** Added to the variance before the square root (default 1e-5, as PyTorch). */
  readonly eps?: number;
}

interface Rows {
  /** How many trailing axes of x are normalised: weight's rank. */
  readonly axes: number;
  /** x's leading shape: one row per index, the shape of mean and rstd. */
  readonly lead: readonly number[];
  readonly rows: number;
  readonly width: number;
}

/** Checks x, weight (x's trailing shape) and their dtypes; returns x's row layout. */
function rowsOf(op: string, x: Tensor, weight: Tensor): Rows {
  assertFloat(op, "x", x);
  if (weight.ndim === 0) {
    throw shapeError(op, "weight must have rank ≥ 1 (the normalised shape), got a scalar");
  }
  const lead = x.shape.slice(0, x.ndim - weight.ndim);
  if (x.ndim < weight.ndim || !shapesEqual(x.shape.slice(lead.length), weight.shape)) {
    throw shapeError(
      op,
      `weight must have the shape of x's trailing axes it normalises over: x is ` +
        `${showShape(x.shape)}, weight is ${showShape(weight.shape)}`,
    );
  }
  if (weight.dtype !== x.dtype) {
    throw dtypeError(op, `weight is ${weight.dtype} but x is ${x.dtype}: they must match`);
  }
  const width = weight.size;
  if (width < 1) throw shapeError(op, `weight has no elements: ${showShape(weight.shape)}`);
  return { axes: weight.ndim, lead, rows: x.size / width, width };
}

function assertShape(op: string, name: string, t: Tensor, shape: readonly number[], x: Tensor) {
  if (!shapesEqual(t.shape, shape)) {
    throw shapeError(op, `${name} must have shape ${showShape(shape)}, got ${showShape(t.shape)}`);
  }
  if (t.dtype !== x.dtype) {
    throw dtypeError(op, `${name} is ${t.dtype} but x is ${x.dtype}: they must match`);
  }
}

function epsOf(op: string, attrs: LayerNormAttrs): number {
  const eps = attrs.eps ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) {
    throw argumentError(op, `eps must be a positive finite number, got ${String(eps)}`);
  }
  return eps;
}

/** A per-row tensor ([...lead]) shaped to broadcast against x: `axes` trailing 1s. */
function asRows(v: Tensor, axes: number): Tensor {
  return reshape(v, [...v.shape, ...new Array<number>(axes).fill(1)]);
}

/** The last `count` axes of a rank-`rank` tensor. */
function trailing(rank: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => rank - count + i);
}

function sumOver(t: Tensor, axis: readonly number[]): Tensor {
  return axis.length === 0 ? t : sum(t, { axis: [...axis] });
}

/**
 * layerNormBackward's dx written with primitive ops: what the kernel computes and what its vjp
 * differentiates. weight broadcasts against x; the trailing `axes` axes of x are normalised.
 */
function inputGradComposite(
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  rowMean: Tensor,
  rstd: Tensor,
  axes: number,
): Tensor {
  const axis = trailing(x.ndim, axes);
  const r = asRows(rstd, axes);
  const xhat = mul(sub(x, asRows(rowMean, axes)), r);
  const g = mul(dy, weight);
  const projection = mul(xhat, mean(mul(g, xhat), { axis, keepdims: true }));
  return mul(r, sub(sub(g, mean(g, { axis, keepdims: true })), projection));
}

/** layerNormBackward's [dweight, dbias] with primitive ops, summed over x's `rowAxes`. */
function paramGradComposite(
  dy: Tensor,
  x: Tensor,
  rowMean: Tensor,
  rstd: Tensor,
  axes: number,
  rowAxes: readonly number[],
): readonly [Tensor, Tensor] {
  const xhat = mul(sub(x, asRows(rowMean, axes)), asRows(rstd, axes));
  return [sumOver(mul(dy, xhat), rowAxes), sumOver(dy, rowAxes)];
}

/** x with its batch axis in front (broadcast over the batch when unmapped). */
function front(t: Tensor, axis: number | null | undefined, size: number): Tensor {
  return batchAt(t, axis ?? null, 0, size);
}

/** x of rank 1–4 with ≥ 3 well-spread values per row, the trailing `axes` normalised. */
function layerNormInput(kit: SampleKit) {
  return kit
    .shape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 4 })
    .chain((shape) =>
      kit.fc.integer({ min: 1, max: shape.length }).map((axes) => ({ shape, axes })),
    )
    .filter(({ shape, axes }) => shape.slice(shape.length - axes).reduce((a, b) => a * b, 1) >= 3)
    .chain(({ shape, axes }) =>
      kit.tensor(shape, { distinct: true, margin: 0.2 }).map((x) => ({ x, axes })),
    );
}

const layerNormOp = defineOp({
  name: "layerNorm",
  inputs: ["x", "weight", "bias"],
  outputs: ["y", "mean", "rstd"],
  forward: ([x, weight, bias], attrs: LayerNormAttrs) => {
    const { lead, rows, width } = rowsOf("layerNorm", x, weight);
    assertShape("layerNorm", "bias", bias, weight.shape, x);
    const eps = epsOf("layerNorm", attrs);
    const y = unfilled(x.dtype, x.shape);
    const rowMean = unfilled(x.dtype, lead);
    const rstd = unfilled(x.dtype, lead);
    kernels().layerNorm(
      floatData("layerNorm", "x", x),
      rows,
      width,
      eps,
      floatData("layerNorm", "weight", weight),
      floatData("layerNorm", "bias", bias),
      y.buffer as FloatArray,
      rowMean.buffer as FloatArray,
      rstd.buffer as FloatArray,
    );
    return [y, rowMean, rstd];
  },
  // The statistics' own terms: ∂mean/∂x = 1/n and ∂rstd/∂x = −rstd³·(x − mean)/n per row. In
  // training nothing uses them, so their zero cotangents are skipped.
  vjp: ({ dy: [dy, dmean, drstd], inputs: [x, weight], y: [, rowMean, rstd], needsGrad }) => {
    const [dx, dweight, dbias] = layerNormBackward(dy, x, weight, rowMean, rstd);
    if (!needsGrad[0]) return [null, dweight, dbias];
    const axes = weight.ndim;
    const n = weight.size;
    let total = dx;
    if (!isUnusedCotangent(dmean)) total = add(total, asRows(mul(dmean, 1 / n), axes));
    if (!isUnusedCotangent(drstd)) {
      const scale = mul(drstd, mul(mul(rstd, mul(rstd, rstd)), -1 / n));
      total = add(total, mul(asRows(scale, axes), sub(x, asRows(rowMean, axes))));
    }
    return [total, dweight, dbias];
  },
  // A mapped x folds its batch into the rows (the batch axis in front, ahead of the leading
  // axes). A mapped weight or bias has no kernel form: the op normalises with ones and zeros and
  // the affine is composed with broadcasting ops.
  batch: ({
    inputs: [x, weight, bias],
    axes,
    size,
    attrs,
  }): BatchResult<readonly ["y", "mean", "rstd"]> => {
    const [xAxis, wAxis, bAxis] = axes;
    const statsAxis = xAxis === null || xAxis === undefined ? null : 0;
    const xb = statsAxis === null ? x : front(x, xAxis, size);
    if (wAxis === null && bAxis === null) {
      const [y, rowMean, rstd] = layerNormOp(xb, weight, bias, attrs);
      return { y: [y, rowMean, rstd], axes: [0, statsAxis, statsAxis] };
    }
    const shape = wAxis === null ? weight.shape : weight.shape.filter((_, i) => i !== wAxis);
    const [xhat, rowMean, rstd] = layerNormOp(
      xb,
      full(shape, 1, x.dtype),
      full(shape, 0, x.dtype),
      attrs,
    );
    const [h, w, b] = broadcastBatched(
      [xhat, weight, bias],
      [statsAxis, wAxis ?? null, bAxis ?? null],
    );
    return { y: [add(mul(h!, w!), b!), rowMean, rstd], axes: [0, statsAxis, statsAxis] };
  },
  samples: (kit) =>
    layerNormInput(kit).chain(({ x, axes }) => {
      const shape = x.shape.slice(x.ndim - axes);
      return kit.fc
        .tuple(kit.tensor(shape), kit.tensor(shape))
        .map(([weight, bias]) => ({ inputs: [x, weight, bias], attrs: {} }));
    }),
  tolerance: { atol: 1e-4 },
});

/**
 * Layer normalisation (PyTorch's F.layer_norm) over x's trailing axes, as many as weight has:
 * y = (x − μ)·rstd·weight + bias, rstd = 1/√(σ² + eps), σ² the biased variance of each row;
 * weight and bias have the normalised shape. Returns [y, mean, rstd] (the last two of x's leading
 * shape). One fused kernel; the gradient is layerNormBackward.
 */
export function layerNorm(
  x: TensorLike,
  weight: TensorLike,
  bias: TensorLike,
  attrs: LayerNormAttrs = {},
): readonly [y: Tensor, mean: Tensor, rstd: Tensor] {
  return layerNormOp(x, weight, bias, attrs);
}

const layerNormBackwardOp = defineOp({
  name: "layerNormBackward",
  inputs: ["dy", "x", "weight", "mean", "rstd"],
  outputs: ["dx", "dweight", "dbias"],
  forward: ([dy, x, weight, rowMean, rstd]) => {
    const op = "layerNormBackward";
    const { lead, rows, width } = rowsOf(op, x, weight);
    assertShape(op, "dy", dy, x.shape, x);
    assertShape(op, "mean", rowMean, lead, x);
    assertShape(op, "rstd", rstd, lead, x);
    const dx = unfilled(x.dtype, x.shape);
    const dweight = unfilled(x.dtype, weight.shape);
    const dbias = unfilled(x.dtype, weight.shape);
    kernels().layerNormBackward(
      floatData(op, "dy", dy),
      floatData(op, "x", x),
      rows,
      width,
      floatData(op, "weight", weight),
      floatData(op, "mean", rowMean),
      floatData(op, "rstd", rstd),
      dx.buffer as FloatArray,
      dweight.buffer as FloatArray,
      dbias.buffer as FloatArray,
    );
    return [dx, dweight, dbias];
  },
  // Second order differentiates the same function written with primitive ops.
  vjp: ({ dy: g, inputs: [dy, x, weight, rowMean, rstd] }) => {
    const rowAxes = x.shape.slice(0, x.ndim - weight.ndim).map((_, i) => i);
    const [, pullback] = vjp(
      (d: Tensor, v: Tensor, w: Tensor, m: Tensor, r: Tensor) =>
        [
          inputGradComposite(d, v, w, m, r, w.ndim),
          ...paramGradComposite(d, v, m, r, w.ndim, rowAxes),
        ] as const,
      dy,
      x,
      weight,
      rowMean,
      rstd,
    );
    return pullback(g);
  },
  // Every input gets its batch axis in front. An unmapped weight lets the kernel take the batch
  // as more rows for dx; dweight and dbias are per slice, so they (and everything, for a mapped
  // weight) come from the composite with the batch kept apart.
  batch: ({ inputs, axes, size }): BatchResult<readonly ["dx", "dweight", "dbias"]> => {
    const [dy, x, weight, rowMean, rstd] = inputs.map((t, i) => front(t, axes[i], size));
    const axesCount = weight!.ndim - 1;
    const rowAxes = x!.shape.slice(1, x!.ndim - axesCount).map((_, i) => i + 1);
    const [dweight, dbias] = paramGradComposite(dy!, x!, rowMean!, rstd!, axesCount, rowAxes);
    let dx: Tensor;
    if ((axes[2] ?? null) === null) {
      dx = layerNormBackwardOp(dy!, x!, inputs[2]!, rowMean!, rstd!)[0];
    } else {
      const ones = new Array<number>(rowAxes.length).fill(1);
      const w = reshape(weight!, [size, ...ones, ...weight!.shape.slice(1)]);
      dx = inputGradComposite(dy!, x!, w, rowMean!, rstd!, axesCount);
    }
    return { y: [dx, dweight, dbias], axes: [0, 0, 0] };
  },
  samples: (kit) =>
    layerNormInput(kit).chain(({ x, axes }) => {
      const lead = x.shape.slice(0, x.ndim - axes);
      return kit.fc
        .tuple(
          kit.tensor(x.shape),
          kit.tensor(x.shape.slice(x.ndim - axes)),
          kit.tensor(lead),
          kit.tensor(lead, { min: 0.5, max: 2 }),
        )
        .map(([dy, weight, rowMean, rstd]) => ({
          inputs: [dy, x, weight, rowMean, rstd],
          attrs: {},
        }));
    }),
  tolerance: { atol: 1e-4 },
});

/**
 * The gradients of layerNorm for output cotangent dy, from the forward's per-row mean and rstd:
 * with ĝ = dy·weight, x̂ = (x − mean)·rstd, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row,
 * dweight = Σ dy·x̂ and dbias = Σ dy over the rows. One fused kernel; differentiable.
 */
export function layerNormBackward(
  dy: TensorLike,
  x: TensorLike,
  weight: TensorLike,
  rowMean: TensorLike,
  rstd: TensorLike,
): readonly [dx: Tensor, dweight: Tensor, dbias: Tensor] {
  return layerNormBackwardOp(dy, x, weight, rowMean, rstd, {});
}
