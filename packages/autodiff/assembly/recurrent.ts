// The LSTM and GRU cells' gate arithmetic for float32 tensors: src/kernels/recurrent.ts's loops, in
// float64 with the same operations (σ and tanh from ./transcendental), each result rounded once.

import { sigmoidF64, sigmoidF64x2, tanhF64, tanhF64x2 } from "./transcendental";

/** Two float32 values at p as float64 lanes. */
function load2(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/** Two float64 lanes rounded to float32 at p. */
function store2(p: usize, v: v128): void {
  v128.store64_lane(p, f32x4.demote_f64x2_zero(v), 0);
}

/**
 * As lstmCell in src/kernels/recurrent.ts; addresses of float32 arrays. Two hidden units at a
 * time (the two-lane σ and tanh give the scalar ports' bits), an odd last one alone.
 */
export function lstmCellF32(
  gates: usize,
  c: usize,
  rows: i32,
  hidden: i32,
  h: usize,
  cNext: usize,
  acts: usize,
): void {
  const stride = <usize>hidden * 4;
  for (let r = 0; r < rows; r++) {
    const row = gates + <usize>r * 4 * stride;
    const actsRow = acts + <usize>r * 5 * stride;
    let j = 0;
    for (; j + 2 <= hidden; j += 2) {
      const at = row + <usize>j * 4;
      const i = sigmoidF64x2(load2(at));
      const f = sigmoidF64x2(load2(at + stride));
      const g = tanhF64x2(load2(at + 2 * stride));
      const o = sigmoidF64x2(load2(at + 3 * stride));
      const k = <usize>(r * hidden + j) * 4;
      const next = f64x2.add(f64x2.mul(f, load2(c + k)), f64x2.mul(i, g));
      const t = tanhF64x2(next);
      store2(cNext + k, next);
      store2(h + k, f64x2.mul(o, t));
      const a = actsRow + <usize>j * 4;
      store2(a, i);
      store2(a + stride, f);
      store2(a + 2 * stride, g);
      store2(a + 3 * stride, o);
      store2(a + 4 * stride, t);
    }
    for (; j < hidden; j++) {
      const at = row + <usize>j * 4;
      const i = sigmoidF64(<f64>load<f32>(at));
      const f = sigmoidF64(<f64>load<f32>(at + stride));
      const g = tanhF64(<f64>load<f32>(at + 2 * stride));
      const o = sigmoidF64(<f64>load<f32>(at + 3 * stride));
      const k = <usize>(r * hidden + j) * 4;
      const next = f * <f64>load<f32>(c + k) + i * g;
      const t = tanhF64(next);
      store<f32>(cNext + k, <f32>next);
      store<f32>(h + k, <f32>(o * t));
      const a = actsRow + <usize>j * 4;
      store<f32>(a, <f32>i);
      store<f32>(a + stride, <f32>f);
      store<f32>(a + 2 * stride, <f32>g);
      store<f32>(a + 3 * stride, <f32>o);
      store<f32>(a + 4 * stride, <f32>t);
    }
  }
}

/** As lstmCellBackward in src/kernels/recurrent.ts; addresses of float32 arrays. */
export function lstmCellBackwardF32(
  acts: usize,
  c: usize,
  dh: usize,
  dcNext: usize,
  rows: i32,
  hidden: i32,
  dgates: usize,
  dc: usize,
): void {
  const stride = <usize>hidden * 4;
  for (let r = 0; r < rows; r++) {
    const actsRow = acts + <usize>r * 5 * stride;
    const row = dgates + <usize>r * 4 * stride;
    for (let j = 0; j < hidden; j++) {
      const a = actsRow + <usize>j * 4;
      const i = <f64>load<f32>(a);
      const f = <f64>load<f32>(a + stride);
      const g = <f64>load<f32>(a + 2 * stride);
      const o = <f64>load<f32>(a + 3 * stride);
      const t = <f64>load<f32>(a + 4 * stride);
      const k = <usize>(r * hidden + j) * 4;
      const back = <f64>load<f32>(dh + k);
      const delta = <f64>load<f32>(dcNext + k) + back * o * (1 - t * t);
      const out = row + <usize>j * 4;
      store<f32>(out, <f32>(delta * g * (i * (1 - i))));
      store<f32>(out + stride, <f32>(delta * <f64>load<f32>(c + k) * (f * (1 - f))));
      store<f32>(out + 2 * stride, <f32>(delta * i * (1 - g * g)));
      store<f32>(out + 3 * stride, <f32>(back * t * (o * (1 - o))));
      store<f32>(dc + k, <f32>(delta * f));
    }
  }
}

/** As gruCell in src/kernels/recurrent.ts; addresses of float32 arrays, two units at a time. */
export function gruCellF32(
  xs: usize,
  hs: usize,
  h: usize,
  rows: i32,
  hidden: i32,
  hNext: usize,
  acts: usize,
): void {
  const stride = <usize>hidden * 4;
  for (let row = 0; row < rows; row++) {
    const start = <usize>row * 3 * stride;
    let j = 0;
    for (; j + 2 <= hidden; j += 2) {
      const a = start + <usize>j * 4;
      const r = sigmoidF64x2(f64x2.add(load2(xs + a), load2(hs + a)));
      const z = sigmoidF64x2(f64x2.add(load2(xs + a + stride), load2(hs + a + stride)));
      const n = tanhF64x2(
        f64x2.add(load2(xs + a + 2 * stride), f64x2.mul(r, load2(hs + a + 2 * stride))),
      );
      const k = <usize>(row * hidden + j) * 4;
      store2(hNext + k, f64x2.add(n, f64x2.mul(z, f64x2.sub(load2(h + k), n))));
      store2(acts + a, r);
      store2(acts + a + stride, z);
      store2(acts + a + 2 * stride, n);
    }
    for (; j < hidden; j++) {
      const a = start + <usize>j * 4;
      const r = sigmoidF64(<f64>load<f32>(xs + a) + <f64>load<f32>(hs + a));
      const z = sigmoidF64(<f64>load<f32>(xs + a + stride) + <f64>load<f32>(hs + a + stride));
      const n = tanhF64(
        <f64>load<f32>(xs + a + 2 * stride) + r * <f64>load<f32>(hs + a + 2 * stride),
      );
      const k = <usize>(row * hidden + j) * 4;
      store<f32>(hNext + k, <f32>(n + z * (<f64>load<f32>(h + k) - n)));
      store<f32>(acts + a, <f32>r);
      store<f32>(acts + a + stride, <f32>z);
      store<f32>(acts + a + 2 * stride, <f32>n);
    }
  }
}

/** As gruCellBackward in src/kernels/recurrent.ts; addresses of float32 arrays. */
export function gruCellBackwardF32(
  acts: usize,
  hs: usize,
  h: usize,
  dh: usize,
  rows: i32,
  hidden: i32,
  dxs: usize,
  dhs: usize,
  dhPrev: usize,
): void {
  const stride = <usize>hidden * 4;
  for (let row = 0; row < rows; row++) {
    const start = <usize>row * 3 * stride;
    for (let j = 0; j < hidden; j++) {
      const a = start + <usize>j * 4;
      const r = <f64>load<f32>(acts + a);
      const z = <f64>load<f32>(acts + a + stride);
      const n = <f64>load<f32>(acts + a + 2 * stride);
      const k = <usize>(row * hidden + j) * 4;
      const back = <f64>load<f32>(dh + k);
      const nu = back * (1 - z) * (1 - n * n);
      const rho = nu * <f64>load<f32>(hs + a + 2 * stride) * (r * (1 - r));
      const zeta = back * (<f64>load<f32>(h + k) - n) * (z * (1 - z));
      store<f32>(dxs + a, <f32>rho);
      store<f32>(dxs + a + stride, <f32>zeta);
      store<f32>(dxs + a + 2 * stride, <f32>nu);
      store<f32>(dhs + a, <f32>rho);
      store<f32>(dhs + a + stride, <f32>zeta);
      store<f32>(dhs + a + 2 * stride, <f32>(nu * r));
      store<f32>(dhPrev + k, <f32>(back * z));
    }
  }
}
