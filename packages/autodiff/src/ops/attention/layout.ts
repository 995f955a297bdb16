import type { FloatArray, FloatDType } from "../../dtype.js";
import { argumentError, dtypeError, shapeError, show, showShape } from "../../errors.js";
import type { AttentionDropout, AttentionLayout, AttentionMask } from "../../kernels/attention.js";
import { Rng } from "../../random.js";
import { assertSizeWithinLimit, shapeSize, shapesEqual, type Shape } from "../../shape.js";
import { Tensor } from "../../tensor.js";
import { booleanAttr } from "../util.js";

// Validation of attention's inputs and attrs, and the kernel layout they describe.

/** Dropout of the attention probabilities: the mask is drawn from `key`, never stored. */
export interface AttentionDropoutOptions {
  /** The probability of dropping each entry, in [0, 1); kept ones are scaled by 1/(1 − rate). */
  readonly rate: number;
  /** An int32 key of shape [2] (randomKey, splitKey): the same key draws the same mask. */
  readonly key: Tensor;
}

/** The attrs of the registered attention ops (the public options less the mask). */
export interface AttentionAttrs {
  /** Exclude key j from query i where j > i (top-left aligned, PyTorch's is_causal). */
  readonly causal?: boolean;
  /** The factor of q·kᵀ (default 1/√E). */
  readonly scale?: number;
  /** Dropout of the probabilities (default none). */
  readonly dropout?: AttentionDropoutOptions;
  /**
   * @internal Heads per dropout stream (default: all): head h draws its mask at block h mod
   * dropoutHeads of the key's stream. Batching rules set it, so that each slice of a vmap draws
   * the mask it would draw alone.
   */
  readonly dropoutHeads?: number;
}

/** The sizes of one call: leading (batch, head) axes, queries, keys and features. */
export interface AttentionShapes {
  readonly lead: Shape;
  readonly heads: number;
  readonly lq: number;
  readonly lk: number;
  readonly e: number;
  readonly ev: number;
}

/** Checks q [..., Lq, E], k [..., Lk, E] and v [..., Lk, Ev] against each other. */
export function attentionShapes(op: string, q: Shape, k: Shape, v: Shape): AttentionShapes {
  const named: [string, Shape, string][] = [
    ["q", q, "[..., Lq, E]"],
    ["k", k, "[..., Lk, E]"],
    ["v", v, "[..., Lk, Ev]"],
  ];
  for (const [name, shape, layout] of named) {
    if (shape.length < 2) {
      throw shapeError(
        op,
        `${name} must have shape ${layout} (rank 2 or more), got ${showShape(shape)}`,
      );
    }
  }
  const [lq, e] = q.slice(-2) as [number, number];
  const [lk, ek] = k.slice(-2) as [number, number];
  const [lv, ev] = v.slice(-2) as [number, number];
  if (e !== ek) {
    throw shapeError(
      op,
      `q and k must have the same feature size E (last axis): q is ${showShape(q)}, k is ` +
        showShape(k),
    );
  }
  if (lk !== lv) {
    throw shapeError(
      op,
      `k and v must have the same number of keys Lk (second-to-last axis): k is ` +
        `${showShape(k)}, v is ${showShape(v)}`,
    );
  }
  const lead = q.slice(0, -2);
  if (!shapesEqual(lead, k.slice(0, -2)) || !shapesEqual(lead, v.slice(0, -2))) {
    throw shapeError(
      op,
      `q, k and v must have the same leading (batch, head) axes: q is ${showShape(q)}, k is ` +
        `${showShape(k)}, v is ${showShape(v)}`,
    );
  }
  // One head's scores are allocated whole: they must fit in a tensor.
  assertSizeWithinLimit(op, [lq, lk]);
  return { lead, heads: shapeSize(lead), lq, lk, e, ev };
}

/** Requires `name` (dy, y, lse, …) to have `expected` shape, as the shapes of q, k, v imply. */
export function expectShape(op: string, name: string, x: Tensor, expected: Shape): void {
  if (!shapesEqual(x.shape, expected)) {
    throw shapeError(
      op,
      `${name} must have shape ${showShape(expected)} (from q, k and v), got ${showShape(x.shape)}`,
    );
  }
}

/** The scores' shape [..., Lq, Lk], which the mask must broadcast to. */
export function scoresShape(s: AttentionShapes): number[] {
  return [...s.lead, s.lq, s.lk];
}

/** The mask read through broadcast strides: where each head's [Lq, Lk] block starts. */
export function maskLayout(op: string, mask: Tensor, s: AttentionShapes): AttentionMask {
  const target = scoresShape(s);
  const shape = mask.shape;
  const missing = target.length - shape.length;
  const fits = missing >= 0 && shape.every((d, a) => d === 1 || d === target[missing + a]);
  if (!fits) {
    throw shapeError(
      op,
      `mask of shape ${showShape(shape)} does not broadcast to the scores' shape ` +
        `${showShape(target)} ([..., Lq, Lk])`,
    );
  }
  // Strides over the target's axes; 0 where the mask is broadcast (absent or of size 1).
  const strides = new Array<number>(target.length).fill(0);
  let stride = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    if (shape[a] !== 1) strides[missing + a] = stride;
    stride *= shape[a]!;
  }
  const rank = s.lead.length;
  const headOffsets = new Array<number>(s.heads);
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let h = 0; h < s.heads; h++) {
    headOffsets[h] = offset;
    // Odometer over the leading axes, last fastest.
    for (let a = rank - 1; a >= 0; a--) {
      offset += strides[a]!;
      if (++index[a]! < s.lead[a]!) break;
      offset -= strides[a]! * s.lead[a]!;
      index[a] = 0;
    }
  }
  return {
    data: mask.buffer,
    additive: mask.dtype !== "int32",
    headOffsets,
    rowStride: strides[rank]!,
    colStride: strides[rank + 1]!,
  };
}

/** The factor of q·kᵀ: attrs.scale, or 1/√E. */
export function scaleOf(op: string, attrs: AttentionAttrs, e: number): number {
  const { scale } = attrs;
  if (scale === undefined) return 1 / Math.sqrt(e);
  if (typeof scale !== "number" || !Number.isFinite(scale)) {
    throw argumentError(op, `scale must be a finite number, got ${show(scale)}`);
  }
  return scale;
}

/** attrs.causal, false when absent. */
export function causalOf(op: string, attrs: AttentionAttrs): boolean {
  return attrs.causal === undefined ? false : booleanAttr(op, "causal", attrs.causal);
}

/**
 * attrs.dropout checked, as the kernels draw it: head h's uniforms are those of a fresh Rng on the
 * key from element (h mod dropoutHeads)·Lq·Lk on, so that the mask is randomBernoulli(key,
 * 1 − rate, [..., Lq, Lk]). Null without dropout or at rate 0.
 */
export function dropoutOf(op: string, attrs: AttentionAttrs, s: AttentionShapes) {
  const { dropout, dropoutHeads } = attrs;
  if (dropout === undefined) return null;
  if (typeof dropout !== "object" || dropout === null || Array.isArray(dropout)) {
    throw argumentError(op, `dropout must be an object { rate, key }, got ${show(dropout)}`);
  }
  const { rate, key } = dropout;
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
    throw argumentError(op, `dropout.rate must be a number in [0, 1), got ${show(rate)}`);
  }
  if (!(key instanceof Tensor) || key.dtype !== "int32" || !shapesEqual(key.shape, [2])) {
    throw argumentError(
      op,
      "dropout.key must be an int32 key of shape [2] (from randomKey or splitKey), got " +
        show(key),
    );
  }
  if (key.buffer.length !== key.size) {
    throw argumentError(
      op,
      "dropout.key is mapped by vmap: attrs cannot vary between slices; pass a key that is the " +
        "same for every slice",
    );
  }
  const period = dropoutPeriod(op, dropoutHeads, s);
  if (rate === 0) return null;
  // Key tensors hold the unsigned words as int32 bit patterns (randomKeys.ts).
  const words = [key.buffer[0]! >>> 0, key.buffer[1]! >>> 0] as const;
  const block = s.lq * s.lk;
  const result: AttentionDropout = {
    rate,
    uniforms: (h) => {
      // nextDouble takes two words of the stream per element.
      const rng = Rng.create(words, 2 * (h % period) * block);
      return () => rng.nextDouble();
    },
  };
  return result;
}

/** How many heads' masks differ before the stream repeats (attrs.dropoutHeads; default all). */
export function dropoutPeriod(op: string, dropoutHeads: unknown, s: AttentionShapes): number {
  const period = dropoutHeads ?? Math.max(s.heads, 1);
  if (!Number.isSafeInteger(period) || (period as number) < 1) {
    throw argumentError(op, `dropoutHeads must be a positive integer, got ${show(period)}`);
  }
  return period as number;
}

/** Everything the kernels need, checked: sizes, scale, causality, mask and dropout. */
export function attentionLayout(
  op: string,
  s: AttentionShapes,
  attrs: AttentionAttrs,
  mask: Tensor | undefined,
): AttentionLayout {
  return {
    heads: s.heads,
    lq: s.lq,
    lk: s.lk,
    e: s.e,
    ev: s.ev,
    scale: scaleOf(op, attrs, s.e),
    causal: causalOf(op, attrs),
    mask: mask === undefined ? null : maskLayout(op, mask, s),
    dropout: dropoutOf(op, attrs, s),
  };
}

/** The float type attention computes in: float64 if any operand is, else float32. */
export function computeType(...xs: readonly Tensor[]): FloatDType {
  return xs.some((x) => x.dtype === "float64") ? "float64" : "float32";
}

/** x's elements as `dtype` (the buffer itself when it already is). */
export function elementsAs(x: Tensor, dtype: FloatDType): FloatArray {
  const data = x.buffer;
  if (dtype === "float64") return data instanceof Float64Array ? data : Float64Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Requires a float tensor for a cotangent-like input (dy, y, lse, dlse). */
export function assertFloatInput(op: string, name: string, x: Tensor): void {
  if (x.dtype === "int32") throw dtypeError(op, `${name} must be float32 or float64, got int32`);
}
