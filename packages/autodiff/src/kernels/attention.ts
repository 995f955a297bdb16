import type { FloatArray, TypedArray } from "../dtype.js";
import { jsMatmulKernels, type MatmulKernels } from "./matmul.js";

// Scaled dot-product attention, one head at a time (the memory-efficient / FlashAttention
// formulation). Index letters: h a head (the leading axes flattened), i a query (Lq of them), j a
// key (Lk), e a feature of q and k (E), f a feature of v (Ev). Per head, row-major and contiguous:
// q[i,e], k[j,e], v[j,f], y[i,f], lse[i].
//
//   s[i,j] = scale·Σe q[i,e]·k[j,e] + bias[i,j]     (−∞ where the mask or causality excludes j)
//   lse[i] = log Σj exp s[i,j],   p = exp(s − lse),   y = (p∘z)·v
//
// with z the dropout factor (1 without dropout). The backward pass recomputes p from lse instead
// of keeping it:
//
//   dv = (p∘z)ᵀ·dy,   dp = (dy·vᵀ)∘z,   δ[i] = Σf dy[i,f]·y[i,f] − dlse[i]
//   ds = p∘(dp − δ),  dq = scale·ds·k,   dk = scale·dsᵀ·q,   dbias = ds
//
// Every product is the backend's GEMM on one head's matrices, so the only [Lq, Lk] blocks are
// scratch for one head, reused by the next. Scratch blocks have the dtype of q, k and v (float32 or float64, all alike),
// so that the wasm GEMM takes them. A block a product writes is never an operand of a later
// product: wasm keeps a copy of each product's output to serve later reads of that array
// (backends/wasm/runtime/residency.ts), which would be stale once JavaScript writes over it.

/** The backend's batched GEMM, called with one matrix per operand. */
export type Gemm = MatmulKernels["matmul"];

/** What attention excludes or adds, read per head through broadcast strides. */
export interface AttentionMask {
  /** int32: (i, j) takes part where the value is not 0; float: the value is added to s. */
  readonly data: TypedArray;
  /** True for a float mask (added), false for an int32 one (kept or excluded). */
  readonly additive: boolean;
  /** Where head h's [Lq, Lk] block starts in data (heads the mask broadcasts over share one). */
  readonly headOffsets: readonly number[];
  /** The step from one row i of a block to the next (0 where the mask broadcasts over rows). */
  readonly rowStride: number;
  /** The step from one column j to the next (0 where the mask broadcasts over columns). */
  readonly colStride: number;
}

/** Dropout of p: each entry is kept, scaled by 1/(1 − rate), where its uniform is < 1 − rate. */
export interface AttentionDropout {
  readonly rate: number;
  /** Head h's uniforms in [0, 1), one per (i, j) in row-major order, from successive calls. */
  uniforms(head: number): () => number;
}

/** The sizes and options of one attention call. */
export interface AttentionLayout {
  /** The number of heads: the product of the leading axes. */
  readonly heads: number;
  /** Queries per head. */
  readonly lq: number;
  /** Keys (and values) per head. */
  readonly lk: number;
  /** Features of q and k. */
  readonly e: number;
  /** Features of v. */
  readonly ev: number;
  /** The factor of q·kᵀ. */
  readonly scale: number;
  /** Exclude j > i (top-left aligned, as PyTorch's is_causal). */
  readonly causal: boolean;
  /** An int32 or float mask, or null. */
  readonly mask: AttentionMask | null;
  /** Dropout of p, or null. */
  readonly dropout: AttentionDropout | null;
}

const FIRST = [0];

/** A scratch block like `like` (same element type) of `size` elements. */
function scratch(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/** One head's matrix of `rows × cols` elements out of a stack of them. */
function headOf(x: FloatArray, h: number, rows: number, cols: number): FloatArray {
  const size = rows * cols;
  return x.subarray(h * size, (h + 1) * size);
}

/** Turns head h's raw products q·kᵀ in `s` into scores in place: scaled, masked, biased. */
function toScores(layout: AttentionLayout, h: number, s: FloatArray): void {
  const { lq, lk, scale, causal, mask } = layout;
  const base = mask === null ? 0 : mask.headOffsets[h]!;
  for (let i = 0; i < lq; i++) {
    const row = i * lk;
    const maskRow = mask === null ? 0 : base + i * mask.rowStride;
    for (let j = 0; j < lk; j++) {
      let value = scale * s[row + j]!;
      if (causal && j > i) value = -Infinity;
      else if (mask !== null) {
        const m = mask.data[maskRow + j * mask.colStride]!;
        if (mask.additive) value += m;
        else if (m === 0) value = -Infinity;
      }
      s[row + j] = value;
    }
  }
}

/**
 * p = exp(s − lse). A row with nothing to attend to has lse = −∞ and gives NaN throughout, as
 * PyTorch's softmax of a row of −∞ does.
 */
function probability(s: number, lse: number): number {
  return lse === -Infinity ? NaN : Math.exp(s - lse);
}

/**
 * y[h] = softmax(s[h])·v[h] with dropout, and lse[h], head by head; y and lse are written
 * throughout. q, k, v and y share one float type.
 */
export function attentionForward(
  gemm: Gemm,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  layout: AttentionLayout,
  y: FloatArray,
  lse: FloatArray,
): void {
  const { heads, lq, lk, e, ev, dropout } = layout;
  const s = scratch(q, lq * lk);
  const p = scratch(q, lq * lk);
  const keep = dropout === null ? 1 : 1 - dropout.rate;
  const factor = 1 / keep;
  for (let h = 0; h < heads; h++) {
    gemm(headOf(q, h, lq, e), FIRST, headOf(k, h, lk, e), FIRST, s, lq, e, lk, false, true);
    toScores(layout, h, s);
    const next = dropout === null ? null : dropout.uniforms(h);
    for (let i = 0; i < lq; i++) {
      const row = i * lk;
      let max = -Infinity;
      for (let j = 0; j < lk; j++) if (s[row + j]! > max) max = s[row + j]!;
      let total = 0;
      // With every score −∞ there is nothing to shift by: lse is −∞ (the log of an empty sum).
      if (max !== -Infinity) for (let j = 0; j < lk; j++) total += Math.exp(s[row + j]! - max);
      const l = max === -Infinity ? -Infinity : max + Math.log(total);
      lse[h * lq + i] = l;
      for (let j = 0; j < lk; j++) {
        const value = probability(s[row + j]!, l);
        // Every entry draws its uniform, so that entry (i, j) always has the same one.
        p[row + j] = next === null ? value : next() < keep ? value * factor : 0;
      }
    }
    gemm(p, FIRST, headOf(v, h, lk, ev), FIRST, headOf(y, h, lq, ev), lq, lk, ev, false, false);
  }
}

/**
 * The gradients of attention given dy and dlse (the cotangents of y and lse), from q, k, v, y and
 * lse: dq, dk and dv written throughout; ds added into dmask (zeroed by the caller, laid out as
 * the mask) when it is given. Every float array shares one type, but lse and dlse may be any.
 */
export function attentionBackward(
  gemm: Gemm,
  dy: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  y: FloatArray,
  lse: ArrayLike<number>,
  dlse: ArrayLike<number>,
  layout: AttentionLayout,
  dq: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  dmask: FloatArray | null,
): void {
  const { heads, lq, lk, e, ev, scale, mask, dropout } = layout;
  const s = scratch(q, lq * lk);
  const p = scratch(q, lq * lk);
  const dp = scratch(q, lq * lk);
  const keep = dropout === null ? 1 : 1 - dropout.rate;
  const factor = 1 / keep;
  for (let h = 0; h < heads; h++) {
    const qh = headOf(q, h, lq, e);
    const kh = headOf(k, h, lk, e);
    const vh = headOf(v, h, lk, ev);
    const dyh = headOf(dy, h, lq, ev);
    gemm(qh, FIRST, kh, FIRST, s, lq, e, lk, false, true);
    toScores(layout, h, s);
    // p·z, the probabilities y was made of.
    let next = dropout === null ? null : dropout.uniforms(h);
    for (let i = 0; i < lq; i++) {
      const l = lse[h * lq + i]!;
      for (let j = i * lk; j < (i + 1) * lk; j++) {
        const value = probability(s[j]!, l);
        p[j] = next === null ? value : next() < keep ? value * factor : 0;
      }
    }
    gemm(p, FIRST, dyh, FIRST, headOf(dv, h, lk, ev), lk, lq, ev, true, false);
    gemm(dyh, FIRST, vh, FIRST, dp, lq, ev, lk, false, true);
    // ds = p∘(dp·z − δ), with p itself recomputed where dropout made p·z differ from it.
    next = dropout === null ? null : dropout.uniforms(h);
    const base = mask === null ? 0 : mask.headOffsets[h]!;
    for (let i = 0; i < lq; i++) {
      const l = lse[h * lq + i]!;
      const yRow = (h * lq + i) * ev;
      let delta = -dlse[h * lq + i]!;
      for (let f = 0; f < ev; f++) delta += dy[yRow + f]! * y[yRow + f]!;
      const maskRow = mask === null ? 0 : base + i * mask.rowStride;
      for (let j = 0; j < lk; j++) {
        const at = i * lk + j;
        let prob = p[at]!;
        let grad = dp[at]!;
        if (next !== null) {
          prob = probability(s[at]!, l);
          grad = next() < keep ? grad * factor : 0;
        }
        const ds = prob * (grad - delta);
        if (dmask !== null) dmask[maskRow + j * mask!.colStride] += ds;
        p[at] = scale * ds;
      }
    }
    gemm(p, FIRST, kh, FIRST, headOf(dq, h, lq, e), lq, lk, e, false, false);
    gemm(p, FIRST, qh, FIRST, headOf(dk, h, lk, e), lk, lq, e, true, false);
  }
}

/** Scaled dot-product attention over every head (kernels/attention.ts has the formulas). */
export interface AttentionKernels {
  /** y = softmax(scale·q·kᵀ + mask)·v with dropout and lse, the row log-sum-exp, head by head. */
  attentionForward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    layout: AttentionLayout,
    y: FloatArray,
    lse: FloatArray,
  ): void;
  /**
   * dq, dk, dv (written throughout) from dy and dlse, p recomputed from lse; ds added into dmask
   * (zeroed by the caller, laid out as the mask) when it is given.
   */
  attentionBackward(
    dy: FloatArray,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    y: FloatArray,
    lse: ArrayLike<number>,
    dlse: ArrayLike<number>,
    layout: AttentionLayout,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    dmask: FloatArray | null,
  ): void;
}

/** Attention head by head, every product through js's own GEMM. */
export const jsAttentionKernels: AttentionKernels = {
  attentionForward: (q, k, v, layout, y, lse) =>
    attentionForward(jsMatmulKernels.matmul, q, k, v, layout, y, lse),
  attentionBackward: (dy, q, k, v, y, lse, dlse, layout, dq, dk, dv, dmask) =>
    attentionBackward(jsMatmulKernels.matmul, dy, q, k, v, y, lse, dlse, layout, dq, dk, dv, dmask),
};
