// 2×2, stride-2 pooling (no padding or dilation, every window whole) on float32, four windows
// per step: the same tournament and the same float64 arithmetic as ../src/kernels/pool.ts, so
// the results are identical. Other geometries stay in js.

/** The flat index of the first maximum (or first NaN) of the window at k, as windowArgmax. */
function scanWindow(x: usize, k: i32, width: i32): i32 {
  let best = -Infinity;
  let index = k;
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      const at = k + r * width + c;
      const v = load<f32>(x + <usize>at * 4);
      if (v > best || (isNaN(v) && !isNaN(best))) {
        best = v;
        index = at;
      }
    }
  }
  return index;
}

/**
 * y[p, i, j] = max of the window at x[p, 2i…2i+1, 2j…2j+1] and argmax its flat index into x:
 * the first maximum in row-major order, or the first NaN.
 */
export function maxPool2x2F32(
  x: usize,
  planes: i32,
  height: i32,
  width: i32,
  outH: i32,
  outW: i32,
  y: usize,
  argmax: usize,
): void {
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let i = 0; i < outH; i++) {
      const rowStart = base + 2 * i * width;
      let j = 0;
      for (; j + 4 <= outW; j += 4) maxFour(x, rowStart + 2 * j, width, y, argmax, o + j);
      if (j < outW && outW >= 4) {
        // The last windows as four ending at the row's end, some of them again (the same
        // values): one vector step instead of a scalar scan per window (LeNet's rows of 14
        // and 5 windows end in 2 and 1).
        maxFour(x, rowStart + 2 * (outW - 4), width, y, argmax, o + outW - 4);
      } else {
        for (; j < outW; j++) {
          const index = scanWindow(x, rowStart + 2 * j, width);
          store<f32>(y + <usize>(o + j) * 4, load<f32>(x + <usize>index * 4));
          store<i32>(argmax + <usize>(o + j) * 4, index);
        }
      }
      o += outW;
    }
  }
}

/** Four windows side by side, starting at flat index k of x: outputs o…o+3. */
function maxFour(x: usize, k: i32, width: i32, y: usize, argmax: usize, o: i32): void {
  const r0 = x + <usize>k * 4;
  const r1 = r0 + <usize>width * 4;
  const lo0 = v128.load(r0);
  const hi0 = v128.load(r0, 16);
  const lo1 = v128.load(r1);
  const hi1 = v128.load(r1, 16);
  const a = v128.shuffle<f32>(lo0, hi0, 0, 2, 4, 6);
  const b = v128.shuffle<f32>(lo0, hi0, 1, 3, 5, 7);
  const c = v128.shuffle<f32>(lo1, hi1, 0, 2, 4, 6);
  const d = v128.shuffle<f32>(lo1, hi1, 1, 3, 5, 7);
  const sum = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
  if (v128.any_true(f32x4.ne(sum, sum))) {
    // A NaN (or +∞ with −∞) in some window: scan those four in order, as js does.
    for (let l = 0; l < 4; l++) {
      const index = scanWindow(x, k + 2 * l, width);
      store<f32>(y + <usize>(o + l) * 4, load<f32>(x + <usize>index * 4));
      store<i32>(argmax + <usize>(o + l) * 4, index);
    }
    return;
  }
  // Strict > keeps the first of tied maxima: a before b, c before d, top before bottom.
  const one = i32x4.splat(1);
  const topWins = f32x4.gt(b, a);
  const top = v128.bitselect(b, a, topWins);
  const topAt = v128.and(topWins, one);
  const bottomWins = f32x4.gt(d, c);
  const bottom = v128.bitselect(d, c, bottomWins);
  const bottomAt = i32x4.add(i32x4.splat(width), v128.and(bottomWins, one));
  const lower = f32x4.gt(bottom, top);
  v128.store(y + <usize>o * 4, v128.bitselect(bottom, top, lower));
  const at = v128.bitselect(bottomAt, topAt, lower);
  const lanes = i32x4(0, 2, 4, 6);
  v128.store(argmax + <usize>o * 4, i32x4.add(i32x4.add(i32x4.splat(k), lanes), at));
}

/** y[p, i, j] = (a + b + c + d)·0.25 over the window, summed in float64 as js does. */
export function avgPool2x2F32(
  x: usize,
  planes: i32,
  height: i32,
  width: i32,
  outH: i32,
  outW: i32,
  y: usize,
): void {
  let o = 0;
  const quarter = f64x2.splat(0.25);
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let i = 0; i < outH; i++) {
      const rowStart = base + 2 * i * width;
      let j = 0;
      for (; j + 4 <= outW; j += 4) {
        const r0 = x + <usize>(rowStart + 2 * j) * 4;
        const r1 = r0 + <usize>width * 4;
        const lo0 = v128.load(r0);
        const hi0 = v128.load(r0, 16);
        const lo1 = v128.load(r1);
        const hi1 = v128.load(r1, 16);
        const a = v128.shuffle<f32>(lo0, hi0, 0, 2, 4, 6);
        const b = v128.shuffle<f32>(lo0, hi0, 1, 3, 5, 7);
        const c = v128.shuffle<f32>(lo1, hi1, 0, 2, 4, 6);
        const d = v128.shuffle<f32>(lo1, hi1, 1, 3, 5, 7);
        // Windows 0, 1 in the low halves, 2, 3 in the high halves (shifted down first).
        let sum = f64x2.add(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b));
        sum = f64x2.add(sum, f64x2.promote_low_f32x4(c));
        sum = f64x2.add(sum, f64x2.promote_low_f32x4(d));
        const ah = v128.shuffle<f32>(a, a, 2, 3, 0, 1);
        const bh = v128.shuffle<f32>(b, b, 2, 3, 0, 1);
        const ch = v128.shuffle<f32>(c, c, 2, 3, 0, 1);
        const dh = v128.shuffle<f32>(d, d, 2, 3, 0, 1);
        let high = f64x2.add(f64x2.promote_low_f32x4(ah), f64x2.promote_low_f32x4(bh));
        high = f64x2.add(high, f64x2.promote_low_f32x4(ch));
        high = f64x2.add(high, f64x2.promote_low_f32x4(dh));
        const low4 = f32x4.demote_f64x2_zero(f64x2.mul(sum, quarter));
        const high4 = f32x4.demote_f64x2_zero(f64x2.mul(high, quarter));
        v128.store(y + <usize>o * 4, v128.shuffle<f32>(low4, high4, 0, 1, 4, 5));
        o += 4;
      }
      for (; j < outW; j++) {
        const k = x + <usize>(rowStart + 2 * j) * 4;
        const w = <usize>width * 4;
        const total =
          <f64>load<f32>(k) +
          <f64>load<f32>(k, 4) +
          <f64>load<f32>(k + w) +
          <f64>load<f32>(k + w, 4);
        store<f32>(y + <usize>o * 4, <f32>(total * 0.25));
        o++;
      }
    }
  }
}

/** dx = 0, then each window's four cells = dy[p, i, j]·0.25 (exact in float32). */
export function avgPool2x2BackwardF32(
  dy: usize,
  planes: i32,
  height: i32,
  width: i32,
  outH: i32,
  outW: i32,
  dx: usize,
): void {
  memory.fill(dx, 0, <usize>(planes * height * width) * 4);
  let o = 0;
  const quarter = f32x4.splat(0.25);
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let i = 0; i < outH; i++) {
      const rowStart = base + 2 * i * width;
      let j = 0;
      for (; j + 4 <= outW; j += 4) {
        const v = f32x4.mul(v128.load(dy + <usize>o * 4), quarter);
        // Each value twice in a row: v0 v0 v1 v1 | v2 v2 v3 v3, on both rows of the windows.
        const lo = v128.shuffle<f32>(v, v, 0, 0, 1, 1);
        const hi = v128.shuffle<f32>(v, v, 2, 2, 3, 3);
        const r0 = dx + <usize>(rowStart + 2 * j) * 4;
        const r1 = r0 + <usize>width * 4;
        v128.store(r0, lo);
        v128.store(r0, hi, 16);
        v128.store(r1, lo);
        v128.store(r1, hi, 16);
        o += 4;
      }
      for (; j < outW; j++) {
        const v = load<f32>(dy + <usize>o * 4) * 0.25;
        const k = dx + <usize>(rowStart + 2 * j) * 4;
        const w = <usize>width * 4;
        store<f32>(k, v);
        store<f32>(k, v, 4);
        store<f32>(k + w, v);
        store<f32>(k + w, v, 4);
        o++;
      }
    }
  }
}

/**
 * max pooling's gradient where every window's argmax lies in the 2×2 block at (2i, 2j) of its
 * plane: the blocks are disjoint, so the scatter-add of dy into a zero dx is one store per
 * window, 0 + dy as js adds it (−0 becomes +0). Returns −1, or the first window whose argmax
 * lies outside its block (dx is then incomplete and the caller scatters in js instead).
 */
export function maxPool2x2BackwardF32(
  dy: usize,
  argmax: usize,
  planes: i32,
  height: i32,
  width: i32,
  outH: i32,
  outW: i32,
  dx: usize,
): i32 {
  memory.fill(dx, 0, <usize>(planes * height * width) * 4);
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let i = 0; i < outH; i++) {
      const rowStart = base + 2 * i * width;
      for (let j = 0; j < outW; j++, o++) {
        const at = load<i32>(argmax + <usize>o * 4);
        const r = at - (rowStart + 2 * j);
        if (r !== 0 && r !== 1 && r !== width && r !== width + 1) return o;
        store<f32>(dx + <usize>at * 4, <f32>0 + load<f32>(dy + <usize>o * 4));
      }
    }
  }
  return -1;
}
