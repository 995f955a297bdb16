// Float32 batch-norm kernels over x viewed as [outer, channels, inner] (../src/kernels/norm.ts
// has the js twins and the formulas). Statistics accumulate in float64 as js does, two f64x2
// per f32x4 of data; the per-cell arithmetic is f32x4, so results match js within a few ulps.

/** Lanes 0 and 1 of four float32s as an f64x2. */
function promoteLow(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Lanes 2 and 3 of four float32s as an f64x2. */
function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

/**
 * sums[c] = Σ (x − K) and sums[channels + c] = Σ (x − K)² over channel c's cells (float64), K the
 * channel's first value: the shifted-data moments, which js's finishMoments turns into mean and
 * variance.
 */
export function shiftedSumsF32(x: usize, outer: i32, channels: i32, inner: i32, sums: usize): void {
  const body = inner & ~3;
  for (let c = 0; c < channels; c++) {
    const shift = load<f32>(x + <usize>(c * inner) * 4);
    const shifts = f32x4.splat(shift);
    let s = f64x2.splat(0);
    let q = f64x2.splat(0);
    let sTail: f64 = 0;
    let qTail: f64 = 0;
    for (let n = 0; n < outer; n++) {
      const row = x + <usize>((n * channels + c) * inner) * 4;
      for (let k = 0; k < body; k += 4) {
        const d = f32x4.sub(v128.load(row + <usize>k * 4), shifts);
        const lo = promoteLow(d);
        const hi = promoteHigh(d);
        s = f64x2.add(s, f64x2.add(lo, hi));
        q = f64x2.add(q, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
      }
      for (let k = body; k < inner; k++) {
        const d = <f64>load<f32>(row + <usize>k * 4) - <f64>shift;
        sTail += d;
        qTail += d * d;
      }
    }
    store<f64>(sums + <usize>c * 8, f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1) + sTail);
    store<f64>(
      sums + <usize>(channels + c) * 8,
      f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1) + qTail,
    );
  }
}

/** y = x·scale[c] + shift[c] per channel; coefficients = [scale; shift] as float64. */
export function scaleShiftF32(
  x: usize,
  outer: i32,
  channels: i32,
  inner: i32,
  coefficients: usize,
  y: usize,
): void {
  const body = inner & ~3;
  for (let c = 0; c < channels; c++) {
    const a = <f32>load<f64>(coefficients + <usize>c * 8);
    const b = <f32>load<f64>(coefficients + <usize>(channels + c) * 8);
    const as = f32x4.splat(a);
    const bs = f32x4.splat(b);
    for (let n = 0; n < outer; n++) {
      const offset = <usize>((n * channels + c) * inner) * 4;
      const from = x + offset;
      const to = y + offset;
      for (let k = 0; k < body; k += 4) {
        const p = <usize>k * 4;
        v128.store(to + p, f32x4.add(f32x4.mul(v128.load(from + p), as), bs));
      }
      for (let k = body; k < inner; k++) {
        const p = <usize>k * 4;
        store<f32>(to + p, load<f32>(from + p) * a + b);
      }
    }
  }
}

/**
 * sums[c] = Σ dy and sums[channels + c] = Σ dy·(x − mean[c]) over channel c's cells (float64),
 * mean[c] read from stats (float64 means, then variances).
 */
export function batchNormSumsF32(
  dy: usize,
  x: usize,
  outer: i32,
  channels: i32,
  inner: i32,
  stats: usize,
  sums: usize,
): void {
  const body = inner & ~3;
  for (let c = 0; c < channels; c++) {
    const mean = load<f64>(stats + <usize>c * 8);
    const means = f32x4.splat(<f32>mean);
    let g = f64x2.splat(0);
    let p = f64x2.splat(0);
    let gTail: f64 = 0;
    let pTail: f64 = 0;
    for (let n = 0; n < outer; n++) {
      const offset = <usize>((n * channels + c) * inner) * 4;
      for (let k = 0; k < body; k += 4) {
        const at = offset + <usize>k * 4;
        const d = v128.load(dy + at);
        const centered = f32x4.sub(v128.load(x + at), means);
        const dLo = promoteLow(d);
        const dHi = promoteHigh(d);
        g = f64x2.add(g, f64x2.add(dLo, dHi));
        p = f64x2.add(
          p,
          f64x2.add(f64x2.mul(dLo, promoteLow(centered)), f64x2.mul(dHi, promoteHigh(centered))),
        );
      }
      for (let k = body; k < inner; k++) {
        const at = offset + <usize>k * 4;
        const d = <f64>load<f32>(dy + at);
        gTail += d;
        pTail += d * (<f64>load<f32>(x + at) - mean);
      }
    }
    store<f64>(sums + <usize>c * 8, f64x2.extract_lane(g, 0) + f64x2.extract_lane(g, 1) + gTail);
    store<f64>(
      sums + <usize>(channels + c) * 8,
      f64x2.extract_lane(p, 0) + f64x2.extract_lane(p, 1) + pTail,
    );
  }
}

/** dx = a[c]·dy + b[c]·x + d[c] per channel; coefficients = [a; b; d] as float64. */
export function batchNormInputGradF32(
  dy: usize,
  x: usize,
  outer: i32,
  channels: i32,
  inner: i32,
  coefficients: usize,
  dx: usize,
): void {
  const body = inner & ~3;
  for (let c = 0; c < channels; c++) {
    const a = <f32>load<f64>(coefficients + <usize>c * 8);
    const b = <f32>load<f64>(coefficients + <usize>(channels + c) * 8);
    const d = <f32>load<f64>(coefficients + <usize>(2 * channels + c) * 8);
    const as = f32x4.splat(a);
    const bs = f32x4.splat(b);
    const ds = f32x4.splat(d);
    for (let n = 0; n < outer; n++) {
      const offset = <usize>((n * channels + c) * inner) * 4;
      for (let k = 0; k < body; k += 4) {
        const at = offset + <usize>k * 4;
        const lanes = f32x4.add(
          f32x4.add(f32x4.mul(v128.load(dy + at), as), f32x4.mul(v128.load(x + at), bs)),
          ds,
        );
        v128.store(dx + at, lanes);
      }
      for (let k = body; k < inner; k++) {
        const at = offset + <usize>k * 4;
        store<f32>(dx + at, load<f32>(dy + at) * a + load<f32>(x + at) * b + d);
      }
    }
  }
}
