import { kernels } from "../../backends/backend.js";
import type { FloatArray, FloatDType } from "../../dtype.js";
import { randomUniform } from "../../randomKeys.js";
import { defineOp, type BatchResult, type OpSample, type VjpContext } from "../../registry.js";
import type { SampleKit } from "../../sampling.js";
import { shapeSize } from "../../shape.js";
import { Tensor, zeros } from "../../tensor.js";
import { batchAt } from "../batching.js";
import { add, mul, sub, where } from "../binary.js";
import { less, notEqual } from "../compare.js";
import { cast } from "../cast.js";
import { gather } from "../gather.js";
import { sum, unbroadcast } from "../broadcast.js";
import { matmul } from "../matmul.js";
import { expandDims, reshape } from "../reshape.js";
import { exp, neg } from "../unary.js";
import { assertTensor, optionsArgument, unfilled } from "../util.js";
import {
  assertFloatInput,
  scoresShape,
  attentionLayout,
  attentionShapes,
  causalOf,
  computeType,
  dropoutOf,
  dropoutPeriod,
  elementsAs,
  expectShape,
  scaleOf,
  type AttentionAttrs,
  type AttentionDropoutOptions,
  type AttentionShapes,
} from "./layout.js";
import { attentionCases } from "./samples.js";

export type { AttentionDropoutOptions } from "./layout.js";

// Attention is four registered ops: a mask is an optional input, and an op's inputs are fixed,
// so each direction has an op without the mask and one with it as its last input.
//
//   scaledDotProductAttention(q, k, v) → [y, lse]
//   scaledDotProductAttentionMasked(q, k, v, mask) → [y, lse]
//   scaledDotProductAttentionBackward(dy, q, k, v, y, lse, dlse) → [dq, dk, dv]
//   scaledDotProductAttentionBackwardMasked(dy, q, k, v, y, lse, dlse, mask) → [dq, dk, dv, dmask]
//
// The forward ops keep nothing besides their outputs: the row log-sum-exp lse is an output rather
// than a residual so that the backward op's inputs are all traced values, which second order
// needs (lse depends on q and k). The public function returns y alone. The backward ops compute
// the gradients head by head in the kernel; their own vjp is written with ops over all heads at
// once, as the attention formula differentiated twice. Errors name the public function.

const FORWARD = "scaledDotProductAttention";
const FORWARD_MASKED = "scaledDotProductAttentionMasked";
const BACKWARD = "scaledDotProductAttentionBackward";
const BACKWARD_MASKED = "scaledDotProductAttentionBackwardMasked";

const TA = { transA: true };
const TB = { transB: true };

/** y and lse of attention, head by head in the kernel. */
function forward(
  op: string,
  [q, k, v, mask]: readonly Tensor[],
  attrs: AttentionAttrs,
): [Tensor, Tensor] {
  const s = attentionShapes(op, q!.shape, k!.shape, v!.shape);
  const layout = attentionLayout(op, s, attrs, mask);
  const dtype = computeType(q!, k!, v!);
  const y = unfilled(dtype, [...s.lead, s.lq, s.ev]);
  const lse = unfilled(dtype, [...s.lead, s.lq]);
  const [qd, kd, vd] = [q!, k!, v!].map((x) => elementsAs(x, dtype));
  const out = y.buffer as FloatArray;
  kernels().attentionForward(qd!, kd!, vd!, layout, out, lse.buffer as FloatArray);
  return [y, lse];
}

/** dq, dk, dv (and dmask with a mask) of attention, head by head in the kernel. */
function backward(op: string, inputs: readonly Tensor[], attrs: AttentionAttrs): Tensor[] {
  const [dy, q, k, v, y, lse, dlse, mask] = inputs as Tensor[];
  const s = attentionShapes(op, q!.shape, k!.shape, v!.shape);
  const named: [string, Tensor, number[]][] = [
    ["dy", dy!, [...s.lead, s.lq, s.ev]],
    ["y", y!, [...s.lead, s.lq, s.ev]],
    ["lse", lse!, [...s.lead, s.lq]],
    ["dlse", dlse!, [...s.lead, s.lq]],
  ];
  for (const [name, x, shape] of named) {
    assertFloatInput(op, name, x);
    expectShape(op, name, x, shape);
  }
  const layout = attentionLayout(op, s, attrs, mask);
  const dtype = computeType(dy!, q!, k!, v!, y!);
  const grads = [q!, k!, v!].map((x) => unfilled(dtype, x.shape));
  // Zeros for an int32 mask, which carries no gradient.
  const dmask = mask === undefined ? null : zeros(mask.shape, dtype);
  const [dyd, qd, kd, vd, yd] = [dy!, q!, k!, v!, y!].map((x) => elementsAs(x, dtype));
  const [dq, dk, dv] = grads.map((g) => g.buffer as FloatArray);
  kernels().attentionBackward(
    dyd!,
    qd!,
    kd!,
    vd!,
    yd!,
    lse!.buffer,
    dlse!.buffer,
    layout,
    dq!,
    dk!,
    dv!,
    dmask !== null && layout.mask!.additive ? (dmask.buffer as FloatArray) : null,
  );
  return dmask === null ? grads : [...grads, dmask];
}

type ForwardContext = VjpContext<
  readonly string[],
  AttentionAttrs,
  undefined,
  readonly ["y", "lse"]
>;

/** The forward ops' rule: one call of the backward op, which also takes lse's cotangent. */
function forwardVjp({ dy, inputs, y, attrs, needsGrad }: ForwardContext): (Tensor | null)[] {
  const [dOut, dLse] = dy;
  const [out, lse] = y;
  const [q, k, v, mask] = inputs;
  if (mask === undefined) {
    return [...backwardOp(dOut, q!, k!, v!, out, lse, dLse, attrs)];
  }
  const [dq, dk, dv, dmask] = backwardMaskedOp(dOut, q!, k!, v!, out, lse, dLse, mask, attrs);
  return [dq, dk, dv, mask.dtype !== "int32" && needsGrad[3] ? dmask : null];
}

/**
 * The pieces of attention over all heads, written with ops: the scores s = scale·q·kᵀ (+ a float
 * mask), the kept entries (int32 0/1, or null for all) and the dropout factors (or null).
 */
function attentionTerms(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | undefined,
  attrs: AttentionAttrs,
) {
  const op = BACKWARD;
  const s = attentionShapes(op, q.shape, k.shape, v.shape);
  const scale = scaleOf(op, attrs, s.e);
  let scores = mul(matmul(q, k, TB), scale);
  let keep: Tensor | null = null;
  if (mask !== undefined && mask.dtype !== "int32") scores = add(scores, mask);
  if (mask !== undefined && mask.dtype === "int32") keep = notEqual(mask, 0);
  if (causalOf(op, attrs)) {
    const lower = causalKeep(s);
    keep = keep === null ? lower : mul(keep, lower);
  }
  const z = dropoutFactors(attrs, s, computeType(q, k, v));
  return { scale, scores, keep, z };
}

/**
 * The dropout factors of every head, [...lead, Lq, Lk]: 1/(1 − rate) where an entry is kept, else
 * 0, drawn from the key as the kernels draw them (head h from the stream's block h mod period);
 * null without dropout. With ops, so that under jit the mask follows the key of each call.
 */
function dropoutFactors(
  attrs: AttentionAttrs,
  s: AttentionShapes,
  dtype: FloatDType,
): Tensor | null {
  const dropout = dropoutOf(BACKWARD, attrs, s);
  if (dropout === null) return null;
  const period = dropoutPeriod(BACKWARD, attrs.dropoutHeads, s);
  const keep = 1 - dropout.rate;
  let uniforms = randomUniform(attrs.dropout!.key, [period, s.lq, s.lk], { dtype: "float64" });
  if (period !== s.heads) {
    const blocks = Int32Array.from({ length: s.heads }, (_, h) => h % period);
    uniforms = gather(uniforms, new Tensor(blocks, [s.heads]));
  }
  // 1/(1 − rate) where kept (the comparison's 1 times it, exactly), else 0, in float64.
  const factors = mul(cast(less(uniforms, keep), "float64"), 1 / keep);
  return reshape(cast(factors, dtype), scoresShape(s));
}

/** int32 [Lq, Lk], 1 where key j ≤ query i. */
function causalKeep(s: AttentionShapes): Tensor {
  const data = new Int32Array(s.lq * s.lk);
  for (let i = 0; i < s.lq; i++)
    for (let j = 0; j <= Math.min(i, s.lk - 1); j++) data[i * s.lk + j] = 1;
  return new Tensor(data, [s.lq, s.lk]);
}

type BackwardContext = VjpContext<readonly string[], AttentionAttrs, undefined, readonly string[]>;

/**
 * The backward ops' rule, from their formula with ops (p = exp(s − lse) on the kept entries):
 *   pz = p∘z,  dv = pzᵀ·dy,  dp = (dy·vᵀ)∘z,  δ = Σ dy∘y − dlse,  ds = p∘(dp − δ),
 *   dq = scale·ds·k,  dk = scale·dsᵀ·q,  dmask = ds summed to the mask's shape,
 * each step transposed in turn for the cotangents cq, ck, cv (and cmask) of the outputs.
 */
function backwardVjp({
  dy: cotangents,
  inputs,
  attrs,
  needsGrad,
}: BackwardContext): (Tensor | null)[] {
  const [dy, q, k, v, y, lse, dlse, mask] = inputs as Tensor[];
  const [cq, ck, cv, cmask] = cotangents as Tensor[];
  const { scale, scores, keep, z } = attentionTerms(q!, k!, v!, mask, attrs);
  const shifted = sub(scores, expandDims(lse!, -1));
  const p = exp(keep === null ? shifted : where(keep, shifted, -Infinity));
  const pz = z === null ? p : mul(p, z);
  const dyvt = matmul(dy!, v!, TB);
  const dp = z === null ? dyvt : mul(dyvt, z);
  const delta = sub(sum(mul(dy!, y!), { axis: -1, keepdims: true }), expandDims(dlse!, -1));
  const diff = sub(dp, delta);
  const ds = mul(p, diff);
  const additive = mask !== undefined && mask.dtype !== "int32";
  // The cotangent of ds, from dq, dk and dmask.
  let cds = mul(add(matmul(cq!, k!, TB), matmul(q!, ck!, TB)), scale);
  if (additive) cds = add(cds, cmask!);
  const cdp = mul(cds, p);
  const cdelta = neg(sum(cdp, { axis: -1, keepdims: true }));
  const cdyvt = z === null ? cdp : mul(cdp, z);
  const cpz = matmul(dy!, cv!, TB);
  const cp = add(mul(cds, diff), z === null ? cpz : mul(cpz, z));
  const cscores = mul(cp, p);
  const want = (i: number) => needsGrad[i] ?? false;
  return [
    want(0) ? add(add(mul(cdelta, y!), matmul(cdyvt, v!)), matmul(pz, cv!)) : null,
    want(1) ? mul(add(matmul(ds, ck!), matmul(cscores, k!)), scale) : null,
    want(2) ? mul(add(matmul(ds, cq!, TA), matmul(cscores, q!, TA)), scale) : null,
    want(3) ? matmul(cdyvt, dy!, TA) : null,
    want(4) ? mul(cdelta, dy!) : null,
    want(5) ? neg(sum(cscores, { axis: -1 })) : null,
    want(6) ? sum(cdp, { axis: -1 }) : null,
    ...(mask === undefined ? [] : [additive && want(7) ? unbroadcast(cscores, mask.shape) : null]),
  ];
}

/**
 * The inputs of one call over a whole vmap batch: the batch becomes the first leading axis of
 * each (broadcast where an input is not mapped); a mapped mask gets 1s after it, so that its axes
 * line up with the scores' again. The mask is always mapped with `mapMask` (the backward ops,
 * whose dmask is then per slice).
 */
function lineUp(
  inputs: readonly Tensor[],
  axes: readonly (number | null)[],
  size: number,
  qAt: number,
  maskAt: number,
  mapMask: boolean,
): Tensor[] {
  // The rank of one slice's scores, which the mask's axes must line up with.
  const rank = inputs[qAt]!.ndim - (axes[qAt] === null ? 0 : 1);
  return inputs.map((x, i) => {
    const axis = axes[i] ?? null;
    if (i !== maskAt) return batchAt(x, axis, 0, size);
    if (axis === null && !mapMask) return x;
    const front = batchAt(x, axis, 0, size);
    const missing = rank - (front.ndim - 1);
    if (missing <= 0) return front;
    return reshape(front, [size, ...new Array<number>(missing).fill(1), ...front.shape.slice(1)]);
  });
}

/** attrs for the batch: dropout streams restart with every slice's heads, as each draws alone. */
function perSlice(attrs: AttentionAttrs, q: Tensor, axis: number | null): AttentionAttrs {
  if (attrs.dropout === undefined || attrs.dropoutHeads !== undefined) return attrs;
  const slice = axis === null ? q.shape : q.shape.filter((_, i) => i !== axis);
  return { ...attrs, dropoutHeads: Math.max(1, shapeSize(slice.slice(0, -2))) };
}

type AttentionOutputs = readonly ["y", "lse"];

/** Forward inputs: q, k, v, and the mask for the masked op. */
function forwardSamples(kit: SampleKit, masked: boolean) {
  return attentionCases(kit, masked).map(({ q, k, v, mask, attrs }): OpSample<AttentionAttrs> => ({
    inputs: mask === undefined ? [q, k, v] : [q, k, v, mask],
    attrs,
  }));
}

/** Backward inputs: y and lse of the forward pass at q, k, v, and random dy and dlse. */
function backwardSamples(kit: SampleKit, masked: boolean) {
  return attentionCases(kit, masked).chain(({ q, k, v, mask, attrs }) => {
    const inputs = mask === undefined ? [q, k, v] : [q, k, v, mask];
    const [y, lse] = forward(FORWARD, inputs, attrs);
    return kit.fc
      .tuple(kit.tensor(y.shape), kit.tensor(lse.shape))
      .map(([dy, dlse]): OpSample<AttentionAttrs> => ({
        inputs: [dy, q, k, v, y, lse, dlse, ...(mask === undefined ? [] : [mask])],
        attrs,
      }));
  });
}

const forwardOp = defineOp({
  name: FORWARD,
  inputs: ["q", "k", "v"],
  outputs: ["y", "lse"],
  forward: (inputs, attrs: AttentionAttrs) => forward(FORWARD, inputs, attrs),
  vjp: forwardVjp,
  batch: ({ inputs, axes, size, attrs }): BatchResult<AttentionOutputs> => ({
    y: forwardOp.apply(
      lineUp(inputs, axes, size, 0, 3, false),
      perSlice(attrs, inputs[0], axes[0] ?? null),
    ),
    axes: [0, 0],
  }),
  samples: (kit) => forwardSamples(kit, false),
});

const forwardMaskedOp = defineOp({
  name: FORWARD_MASKED,
  inputs: ["q", "k", "v", "mask"],
  outputs: ["y", "lse"],
  forward: (inputs, attrs: AttentionAttrs) => forward(FORWARD, inputs, attrs),
  vjp: forwardVjp,
  batch: ({ inputs, axes, size, attrs }): BatchResult<AttentionOutputs> => ({
    y: forwardMaskedOp.apply(
      lineUp(inputs, axes, size, 0, 3, false),
      perSlice(attrs, inputs[0], axes[0] ?? null),
    ),
    axes: [0, 0],
  }),
  samples: (kit) => forwardSamples(kit, true),
});

const backwardOp = defineOp({
  name: BACKWARD,
  inputs: ["dy", "q", "k", "v", "y", "lse", "dlse"],
  outputs: ["dq", "dk", "dv"],
  forward: (inputs, attrs: AttentionAttrs) =>
    backward(BACKWARD, inputs, attrs) as [Tensor, Tensor, Tensor],
  vjp: backwardVjp,
  batch: ({ inputs, axes, size, attrs }): BatchResult<readonly ["dq", "dk", "dv"]> => ({
    y: backwardOp.apply(
      lineUp(inputs, axes, size, 1, 7, true),
      perSlice(attrs, inputs[1], axes[1] ?? null),
    ),
    axes: [0, 0, 0],
  }),
  samples: (kit) => backwardSamples(kit, false),
});

const backwardMaskedOp = defineOp({
  name: BACKWARD_MASKED,
  inputs: ["dy", "q", "k", "v", "y", "lse", "dlse", "mask"],
  outputs: ["dq", "dk", "dv", "dmask"],
  forward: (inputs, attrs: AttentionAttrs) =>
    backward(BACKWARD, inputs, attrs) as [Tensor, Tensor, Tensor, Tensor],
  vjp: backwardVjp,
  batch: ({ inputs, axes, size, attrs }): BatchResult<readonly ["dq", "dk", "dv", "dmask"]> => {
    const [dq, dk, dv, dmask] = backwardMaskedOp.apply(
      lineUp(inputs, axes, size, 1, 7, true),
      perSlice(attrs, inputs[1], axes[1] ?? null),
    );
    const mask = inputs[7];
    const slice = axes[7] === null ? mask.shape : mask.shape.filter((_, i) => i !== axes[7]);
    return { y: [dq, dk, dv, reshape(dmask, [size, ...slice])], axes: [0, 0, 0, 0] };
  },
  samples: (kit) => backwardSamples(kit, true),
});

/** Options of scaledDotProductAttention and its backward op. */
export interface ScaledDotProductAttentionOptions {
  /** Exclude key j from query i where j > i (top-left aligned, PyTorch's is_causal). */
  readonly causal?: boolean;
  /** The factor of q·kᵀ (default 1/√E). */
  readonly scale?: number;
  /** Dropout of the probabilities, its mask drawn from a key (default none). */
  readonly dropout?: AttentionDropoutOptions;
  /**
   * Broadcastable to [..., Lq, Lk]: int32 1 where query i attends to key j and 0 where not (as
   * PyTorch's boolean attn_mask, True taking part), or float, added to the scores.
   */
  readonly mask?: Tensor;
}

/** The mask and the op's attrs of the public options. */
function split(op: string, options: ScaledDotProductAttentionOptions | undefined) {
  const { mask, ...attrs }: ScaledDotProductAttentionOptions & AttentionAttrs = optionsArgument(
    op,
    options,
  );
  if (mask !== undefined) assertTensor(op, "mask", mask);
  return { mask, attrs };
}

/**
 * softmax(scale·q·kᵀ + mask)·v over the last two axes, q [..., Lq, E], k [..., Lk, E], v [..., Lk,
 * Ev] → [..., Lq, Ev] (PyTorch's F.scaled_dot_product_attention: scale 1/√E by default, causal
 * top-left aligned, a fully masked row NaN), one head at a time: only y and the row log-sum-exp
 * are kept for the gradient, which recomputes each head's probabilities (FlashAttention's rule).
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: ScaledDotProductAttentionOptions,
): Tensor {
  const { mask, attrs } = split(FORWARD, options);
  if (mask === undefined) return forwardOp(q, k, v, attrs)[0];
  return forwardMaskedOp(q, k, v, mask, attrs)[0];
}

/**
 * The gradients of scaledDotProductAttention given dy and dlse, the cotangents of y and of the
 * row log-sum-exp lse (y and lse being the outputs of the registered op): [dq, dk, dv], and
 * dmask with a mask (zeros for an int32 mask). Gradient: written with ops, the formula's own.
 */
export function scaledDotProductAttentionBackward(
  dy: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  y: Tensor,
  lse: Tensor,
  dlse: Tensor,
  options?: ScaledDotProductAttentionOptions,
): readonly Tensor[] {
  const { mask, attrs } = split(BACKWARD, options);
  if (mask === undefined) return backwardOp(dy, q, k, v, y, lse, dlse, attrs);
  return backwardMaskedOp(dy, q, k, v, y, lse, dlse, mask, attrs);
}
