// Float32 layer-norm kernels over x viewed as [rows, width], weight and bias [width]
// (../src/kernels/layerNorm.ts has the js twins and the formulas). Row sums accumulate in float64
// as js does, two f64x2 per f32x4 of data; the per-element arithmetic is f32x4, so results match
// js within a few ulps.

/** Lanes 0 and 1 of four float32s as an f64x2. */
function promoteLow(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Lanes 2 and 3 of four float32s as an f64x2. */
function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

function laneSum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/**
 * y = (x − mean)·rstd·weight + bias per row, mean[r] and rstd[r] = 1/√(var + eps) (biased
 * variance, two passes in float64) written beside it.
 */
export function layerNormF32(
  x: usize,
  rows: i32,
  width: i32,
  eps: f64,
  weight: usize,
  bias: usize,
  y: usize,
  mean: usize,
  rstd: usize,
): void {
  const body = width & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>(r * width) * 4;
    const out = y + <usize>(r * width) * 4;
    let s = f64x2.splat(0);
    let sTail: f64 = 0;
    for (let k = 0; k < body; k += 4) {
      const v = v128.load(row + <usize>k * 4);
      s = f64x2.add(s, f64x2.add(promoteLow(v), promoteHigh(v)));
    }
    for (let k = body; k < width; k++) sTail += <f64>load<f32>(row + <usize>k * 4);
    const mu = (laneSum(s) + sTail) / <f64>width;
    const mus = f64x2.splat(mu);
    let q = f64x2.splat(0);
    let qTail: f64 = 0;
    for (let k = 0; k < body; k += 4) {
      const v = v128.load(row + <usize>k * 4);
      const lo = f64x2.sub(promoteLow(v), mus);
      const hi = f64x2.sub(promoteHigh(v), mus);
      q = f64x2.add(q, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
    }
    for (let k = body; k < width; k++) {
      const d = <f64>load<f32>(row + <usize>k * 4) - mu;
      qTail += d * d;
    }
    const inv = 1 / Math.sqrt((laneSum(q) + qTail) / <f64>width + eps);
    store<f32>(mean + <usize>r * 4, <f32>mu);
    store<f32>(rstd + <usize>r * 4, <f32>inv);
    const m = <f32>mu;
    const a = <f32>inv;
    const ms = f32x4.splat(m);
    const as = f32x4.splat(a);
    for (let k = 0; k < body; k += 4) {
      const p = <usize>k * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(row + p), ms), as);
      v128.store(out + p, f32x4.add(f32x4.mul(xhat, v128.load(weight + p)), v128.load(bias + p)));
    }
    for (let k = body; k < width; k++) {
      const p = <usize>k * 4;
      store<f32>(
        out + p,
        (load<f32>(row + p) - m) * a * load<f32>(weight + p) + load<f32>(bias + p),
      );
    }
  }
}

/**
 * With ĝ = dy·weight and x̂ = (x − mean)·rstd per row: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
 * when dx is not 0, and Σ dy·x̂, Σ dy over the rows added into the float64 [width] arrays
 * dweight and dbias.
 */
export function layerNormBackwardF32(
  dy: usize,
  x: usize,
  rows: i32,
  width: i32,
  weight: usize,
  mean: usize,
  rstd: usize,
  dx: usize,
  dweight: usize,
  dbias: usize,
): void {
  const body = width & ~3;
  for (let r = 0; r < rows; r++) {
    const offset = <usize>(r * width) * 4;
    const m = load<f32>(mean + <usize>r * 4);
    const a = load<f32>(rstd + <usize>r * 4);
    const ms = f32x4.splat(m);
    const as = f32x4.splat(a);
    let sg = f64x2.splat(0);
    let sgx = f64x2.splat(0);
    let sgTail: f64 = 0;
    let sgxTail: f64 = 0;
    for (let k = 0; k < body; k += 4) {
      const p = <usize>k * 4;
      const d = v128.load(dy + offset + p);
      const xhat = f32x4.mul(f32x4.sub(v128.load(x + offset + p), ms), as);
      const g = f32x4.mul(d, v128.load(weight + p));
      const gx = f32x4.mul(g, xhat);
      sg = f64x2.add(sg, f64x2.add(promoteLow(g), promoteHigh(g)));
      sgx = f64x2.add(sgx, f64x2.add(promoteLow(gx), promoteHigh(gx)));
      const dxhat = f32x4.mul(d, xhat);
      const w = dweight + <usize>k * 8;
      const b = dbias + <usize>k * 8;
      v128.store(w, f64x2.add(v128.load(w), promoteLow(dxhat)));
      v128.store(w + 16, f64x2.add(v128.load(w + 16), promoteHigh(dxhat)));
      v128.store(b, f64x2.add(v128.load(b), promoteLow(d)));
      v128.store(b + 16, f64x2.add(v128.load(b + 16), promoteHigh(d)));
    }
    for (let k = body; k < width; k++) {
      const p = <usize>k * 4;
      const d = load<f32>(dy + offset + p);
      const xhat = (load<f32>(x + offset + p) - m) * a;
      const g = d * load<f32>(weight + p);
      sgTail += <f64>g;
      sgxTail += <f64>(g * xhat);
      const w = dweight + <usize>k * 8;
      const b = dbias + <usize>k * 8;
      store<f64>(w, load<f64>(w) + <f64>(d * xhat));
      store<f64>(b, load<f64>(b) + <f64>d);
    }
    if (dx === 0) continue;
    const meanG = <f32>((laneSum(sg) + sgTail) / <f64>width);
    const meanGx = <f32>((laneSum(sgx) + sgxTail) / <f64>width);
    const mgs = f32x4.splat(meanG);
    const mgxs = f32x4.splat(meanGx);
    for (let k = 0; k < body; k += 4) {
      const p = <usize>k * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(x + offset + p), ms), as);
      const g = f32x4.mul(v128.load(dy + offset + p), v128.load(weight + p));
      const inner = f32x4.sub(f32x4.sub(g, mgs), f32x4.mul(xhat, mgxs));
      v128.store(dx + offset + p, f32x4.mul(inner, as));
    }
    for (let k = body; k < width; k++) {
      const p = <usize>k * 4;
      const xhat = (load<f32>(x + offset + p) - m) * a;
      const g = load<f32>(dy + offset + p) * load<f32>(weight + p);
      store<f32>(dx + offset + p, a * (g - meanG - xhat * meanGx));
    }
  }
}
