// Float32 scaled dot-product attention, every head in one call (../src/kernels/attention.ts has
// the js twin, the index letters and the formulas). Per head, row-major and contiguous: q[i,e],
// k[j,e], v[j,f], y[i,f], lse[i]; the only [Lq, Lk] blocks are one head's scratch, reused by the
// next. Products are gemmF32 with C overwritten; the row passes (scores, log-sum-exp, ds) sum and
// shift in float64 as js does, so results differ from js only in float32 rounding and the order
// of the products' sums. Dropout stays in js: its uniforms come from a JavaScript generator.
//
// The mask is read as js reads it: head h's block starts at element maskHeads[h] (an i32 each),
// rows rowStride and columns colStride elements apart; maskKind is NO_MASK, KEEP_MASK (int32,
// 0 excludes) or ADD_MASK (float32, added to the scores).

import { gemmF32 } from "./gemm";

const NO_MASK: i32 = 0;
const KEEP_MASK: i32 = 1;
const ADD_MASK: i32 = 2;

/**
 * Turns row i of the raw products q·kᵀ at `row` into scores in place (scaled, masked, biased,
 * −∞ where excluded) and returns their maximum. `maskRow` is the mask's row i.
 */
function scoreRow(
  row: usize,
  i: i32,
  lk: i32,
  scale: f64,
  causal: bool,
  maskKind: i32,
  maskRow: usize,
  colBytes: usize,
): f32 {
  let max = <f32>-Infinity;
  for (let j = 0; j < lk; j++) {
    const at = row + <usize>j * 4;
    let value = scale * <f64>load<f32>(at);
    if (causal && j > i) value = -Infinity;
    else if (maskKind == ADD_MASK) value += <f64>load<f32>(maskRow + <usize>j * colBytes);
    else if (maskKind == KEEP_MASK && load<i32>(maskRow + <usize>j * colBytes) == 0) {
      value = -Infinity;
    }
    const score = <f32>value;
    store<f32>(at, score);
    if (score > max) max = score;
  }
  return max;
}

/** Fills `count` float32s from `at` with NaN: the probabilities of a row with no key to attend. */
function fillNaN(at: usize, count: i32): void {
  for (let j = 0; j < count; j++) store<f32>(at + <usize>j * 4, <f32>NaN);
}

/**
 * y = softmax(s)·v and lse, the row log-sum-exp of s, head by head, for s = scale·q·kᵀ masked;
 * a row with nothing to attend has lse −∞ and y NaN. `s` is Lq·Lk float32s of scratch, `scratch`
 * gemmScratchBytes() more. Every dimension ≥ 1.
 */
export function attentionForwardF32(
  q: usize,
  k: usize,
  v: usize,
  heads: i32,
  lq: i32,
  lk: i32,
  e: i32,
  ev: i32,
  scale: f64,
  causal: i32,
  mask: usize,
  maskKind: i32,
  maskHeads: usize,
  rowStride: i32,
  colStride: i32,
  y: usize,
  lse: usize,
  s: usize,
  scratch: usize,
): void {
  const rowBytes = <usize>lk * 4;
  const colBytes = <usize>colStride * 4;
  for (let h = 0; h < heads; h++) {
    const qh = q + <usize>(h * lq * e) * 4;
    const kh = k + <usize>(h * lk * e) * 4;
    const vh = v + <usize>(h * lk * ev) * 4;
    gemmF32(qh, e, 1, kh, 1, e, s, lk, lq, e, lk, scratch, true);
    const maskBase = maskKind == NO_MASK ? 0 : load<i32>(maskHeads + <usize>h * 4);
    for (let i = 0; i < lq; i++) {
      const row = s + <usize>i * rowBytes;
      const maskRow = mask + <usize>(maskBase + i * rowStride) * 4;
      const max = scoreRow(row, i, lk, scale, causal != 0, maskKind, maskRow, colBytes);
      const lseAt = lse + <usize>(h * lq + i) * 4;
      if (max == -Infinity) {
        store<f32>(lseAt, <f32>-Infinity);
        fillNaN(row, lk);
        continue;
      }
      // p = exp(s − max) / Σ exp(s − max): one exponential per entry, the same p as exp(s − lse).
      let total: f64 = 0;
      for (let j = 0; j < lk; j++) {
        const at = row + <usize>j * 4;
        const x = Mathf.exp(load<f32>(at) - max);
        store<f32>(at, x);
        total += x;
      }
      store<f32>(lseAt, <f32>(<f64>max + Math.log(total)));
      const inverse = 1 / total;
      for (let j = 0; j < lk; j++) {
        const at = row + <usize>j * 4;
        store<f32>(at, <f32>(<f64>load<f32>(at) * inverse));
      }
    }
    gemmF32(s, lk, 1, vh, ev, 1, y + <usize>(h * lq * ev) * 4, ev, lq, lk, ev, scratch, true);
  }
}

/**
 * dq, dk and dv of attention from dy, dlse (the cotangents of y and lse), q, k, v, y and lse,
 * head by head, p recomputed from lse: dv = pᵀ·dy, dp = dy·vᵀ, δ = Σf dy∘y − dlse,
 * ds = p∘(dp − δ), dq = scale·ds·k, dk = scale·dsᵀ·q; ds is added into dmask (laid out as the
 * mask) unless dmask is 0. `s` and `dp` are Lq·Lk float32s each, `scratch` as for the forward.
 */
export function attentionBackwardF32(
  dy: usize,
  q: usize,
  k: usize,
  v: usize,
  y: usize,
  lse: usize,
  dlse: usize,
  heads: i32,
  lq: i32,
  lk: i32,
  e: i32,
  ev: i32,
  scale: f64,
  causal: i32,
  mask: usize,
  maskKind: i32,
  maskHeads: usize,
  rowStride: i32,
  colStride: i32,
  dmask: usize,
  dq: usize,
  dk: usize,
  dv: usize,
  s: usize,
  dp: usize,
  scratch: usize,
): void {
  const rowBytes = <usize>lk * 4;
  const colBytes = <usize>colStride * 4;
  for (let h = 0; h < heads; h++) {
    const qh = q + <usize>(h * lq * e) * 4;
    const kh = k + <usize>(h * lk * e) * 4;
    const vh = v + <usize>(h * lk * ev) * 4;
    const dyh = dy + <usize>(h * lq * ev) * 4;
    gemmF32(qh, e, 1, kh, 1, e, s, lk, lq, e, lk, scratch, true);
    const maskBase = maskKind == NO_MASK ? 0 : load<i32>(maskHeads + <usize>h * 4);
    for (let i = 0; i < lq; i++) {
      const row = s + <usize>i * rowBytes;
      const maskRow = mask + <usize>(maskBase + i * rowStride) * 4;
      scoreRow(row, i, lk, scale, causal != 0, maskKind, maskRow, colBytes);
      const l = <f64>load<f32>(lse + <usize>(h * lq + i) * 4);
      if (l == -Infinity) {
        fillNaN(row, lk);
        continue;
      }
      for (let j = 0; j < lk; j++) {
        const at = row + <usize>j * 4;
        store<f32>(at, Mathf.exp(<f32>(<f64>load<f32>(at) - l)));
      }
    }
    gemmF32(s, 1, lk, dyh, ev, 1, dv + <usize>(h * lk * ev) * 4, ev, lk, lq, ev, scratch, true);
    gemmF32(dyh, ev, 1, vh, 1, ev, dp, lk, lq, ev, lk, scratch, true);
    for (let i = 0; i < lq; i++) {
      const yRow = <usize>((h * lq + i) * ev) * 4;
      let delta = -(<f64>load<f32>(dlse + <usize>(h * lq + i) * 4));
      for (let f = 0; f < ev; f++) {
        const at = <usize>f * 4;
        delta += <f64>load<f32>(dy + yRow + at) * <f64>load<f32>(y + yRow + at);
      }
      const row = s + <usize>i * rowBytes;
      const dpRow = dp + <usize>i * rowBytes;
      const dmaskRow = dmask + <usize>(maskBase + i * rowStride) * 4;
      for (let j = 0; j < lk; j++) {
        const at = <usize>j * 4;
        const ds = <f64>load<f32>(row + at) * (<f64>load<f32>(dpRow + at) - delta);
        if (dmask != 0) {
          const to = dmaskRow + <usize>j * colBytes;
          store<f32>(to, <f32>(<f64>load<f32>(to) + ds));
        }
        store<f32>(row + at, <f32>(scale * ds));
      }
    }
    gemmF32(s, lk, 1, kh, e, 1, dq + <usize>(h * lq * e) * 4, e, lq, lk, e, scratch, true);
    gemmF32(s, 1, lk, qh, e, 1, dk + <usize>(h * lk * e) * 4, e, lk, lq, e, scratch, true);
  }
}
