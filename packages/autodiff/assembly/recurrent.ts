// The LSTM and GRU cells' gate arithmetic for float32 tensors: src/kernels/recurrent.ts's loops, in
// float64 with the same operations (σ and tanh from ./transcendental), each result rounded once.

import { sigmoidF64, tanhF64 } from "./transcendental";

/** As lstmCell in src/kernels/recurrent.ts; addresses of float32 arrays. */
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
    for (let j = 0; j < hidden; j++) {
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

/** As gruCell in src/kernels/recurrent.ts; addresses of float32 arrays. */
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
    for (let j = 0; j < hidden; j++) {
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
