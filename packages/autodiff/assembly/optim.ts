// One Adam/AdamW step on float32 leaves, four lanes at a time: the js loop of
// ../src/kernels/optim.ts, which rounds every operation to float32 (Math.fround); float32 SIMD
// arithmetic gives the same bits because float64 +, −, ×, ÷ and √ of float32 operands, rounded
// once to float32, are correctly rounded (53 ≥ 2·24 + 2 bits).

import { DECAY_COUPLED, DECAY_DECOUPLED } from "../src/kernels/adamDecay";

/**
 * w, m and v become the new weights and moments, in place; g is the gradient. Each block holds
 * count floats and room for a multiple of four: the lanes past count compute on padding.
 * `constants` holds the step's float32 decay, l2, b1, 1 − b1, b2, 1 − b2, √(1 − β₂ᵗ), eps and
 * lr/(1 − β₁ᵗ), in that order.
 */
export function adamF32(
  w: usize,
  g: usize,
  m: usize,
  v: usize,
  count: i32,
  mode: i32,
  constants: usize,
): void {
  const decay = f32x4.splat(load<f32>(constants));
  const l2 = f32x4.splat(load<f32>(constants, 4));
  const b1 = f32x4.splat(load<f32>(constants, 8));
  const b1c = f32x4.splat(load<f32>(constants, 12));
  const b2 = f32x4.splat(load<f32>(constants, 16));
  const b2c = f32x4.splat(load<f32>(constants, 20));
  const root2 = f32x4.splat(load<f32>(constants, 24));
  const eps = f32x4.splat(load<f32>(constants, 28));
  const scale = f32x4.splat(load<f32>(constants, 32));
  for (let at: usize = 0; at < <usize>count * 4; at += 16) {
    const wi = v128.load(w + at);
    const gi = v128.load(g + at);
    const decayed = mode == DECAY_DECOUPLED ? f32x4.mul(wi, decay) : wi;
    const d = mode == DECAY_COUPLED ? f32x4.add(gi, f32x4.mul(wi, l2)) : gi;
    const mi = f32x4.add(f32x4.mul(v128.load(m + at), b1), f32x4.mul(d, b1c));
    const vi = f32x4.add(f32x4.mul(v128.load(v + at), b2), f32x4.mul(f32x4.mul(d, d), b2c));
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vi), root2), eps);
    v128.store(w + at, f32x4.sub(decayed, f32x4.mul(f32x4.div(mi, denom), scale)));
    v128.store(m + at, mi);
    v128.store(v + at, vi);
  }
}
