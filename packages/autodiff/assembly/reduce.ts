// Float32 sum reduction and scatter-add in the js kernels' exact order and float64 rounding
// (../src/kernels/reduce.ts, shape.ts), so their results are identical.

/**
 * out (zeroed by the caller, laid out as x's shape with the reduced axes set to 1) += x summed
 * over those axes. x is walked in row-major order, one innermost row of `n` at a time; the
 * output moves by `outStrides[axis]` (4 bytes per step; 0 along a reduced axis) and `step` along
 * a row. A row along a reduced axis is summed in float64 (rowSum) and added once, as js does.
 */
export function sumF32(x: usize, rank: i32, shape: usize, outStrides: usize, out: usize): void {
  const n = load<i32>(shape + <usize>(rank - 1) * 4);
  const step = load<i32>(outStrides + <usize>(rank - 1) * 4);
  let rows = 1;
  for (let axis = 0; axis < rank - 1; axis++) rows *= load<i32>(shape + <usize>axis * 4);
  if (n == 0 || rows == 0) return;
  // The odometer over the outer axes lives after the shape: rank − 1 i32s, zeroed here.
  const index = shape + <usize>rank * 8;
  memory.fill(index, 0, <usize>rank * 4);
  let o = 0;
  let from = x;
  for (let row = 0; row < rows; row++) {
    if (step == 0) {
      const at = out + <usize>o * 4;
      store<f32>(at, <f32>(<f64>load<f32>(at) + rowSum(from, n)));
    } else {
      const at = out + <usize>o * 4;
      let i = 0;
      for (; i + 4 <= n; i += 4) {
        const d = at + <usize>i * 4;
        v128.store(d, f32x4.add(v128.load(d), v128.load(from + <usize>i * 4)));
      }
      for (; i < n; i++) {
        const d = at + <usize>i * 4;
        store<f32>(d, load<f32>(d) + load<f32>(from + <usize>i * 4));
      }
    }
    from += <usize>n * 4;
    for (let axis = rank - 2; axis >= 0; axis--) {
      const stride = load<i32>(outStrides + <usize>axis * 4);
      const counter = index + <usize>axis * 4;
      const next = load<i32>(counter) + 1;
      o += stride;
      if (next < load<i32>(shape + <usize>axis * 4)) {
        store<i32>(counter, next);
        break;
      }
      o -= stride * next;
      store<i32>(counter, 0);
    }
  }
}

/**
 * Σ of n floats from `from` in float64, in js's rowSum order: partial sums of the elements
 * 4i, 4i+1 (lanes of lo) and 4i+2, 4i+3 (lanes of hi), combined (s0 + s1) + (s2 + s3), then the
 * last n mod 4 in order.
 */
function rowSum(from: usize, n: i32): f64 {
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(from + <usize>i * 4);
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  let total =
    f64x2.extract_lane(lo, 0) +
    f64x2.extract_lane(lo, 1) +
    (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
  for (; i < n; i++) total += <f64>load<f32>(from + <usize>i * 4);
  return total;
}

/**
 * With out as [outer, n, inner] and updates as [outer, m, inner]: out[o, indices[j], :] +=
 * updates[o, j, :] (a negative index counts from the end), in js's loop order.
 */
export function scatterAddF32(
  updates: usize,
  outer: i32,
  n: i32,
  inner: i32,
  indices: usize,
  m: i32,
  out: usize,
): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      let index = load<i32>(indices + <usize>j * 4);
      if (index < 0) index += n;
      const to = out + <usize>((o * n + index) * inner) * 4;
      const from = updates + <usize>((o * m + j) * inner) * 4;
      for (let i = 0; i < inner; i++) {
        const d = to + <usize>i * 4;
        store<f32>(d, load<f32>(d) + load<f32>(from + <usize>i * 4));
      }
    }
  }
}
