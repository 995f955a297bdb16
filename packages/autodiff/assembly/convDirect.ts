// Direct ("implicit GEMM") convolutions for stride 1, dilation 1 and few output channels, the
// shape of a CNN's first layers (LeNet's conv1: 1 → 6 channels): there the GEMM of conv.ts is
// only 6 rows tall, so writing and packing its column matrix costs as much as the product. Here
// each sample's input is copied once into a zero-bordered plane, and the micro-kernels read the
// column matrix's entries straight from it: tap t = (c, r, s) at output (i, j) is padded cell
// (c, i + r, j + s), one fixed offset per tap from the output's own corner, so eight outputs
// of a row are two unaligned f32x4 loads per tap.
//
// Scratch, per thread (directScratchBytes): tap offsets [K] i32, packed weights
// [⌈Cout/4⌉·4, K] (forward), the padded input [Cin, PH, PW] and an edge tile.

import { ConvArgs } from "./convArgs";
import { madd, MR, NR, packA, writeTile, writeTile2 } from "./gemm";

/** Output columns of one forward micro-tile: two f32x4, as the GEMM's tile. */
const COLS: i32 = NR;

function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

function max(a: i32, b: i32): i32 {
  return a > b ? a : b;
}

function roundUp(a: i32, b: i32): i32 {
  return ((a + b - 1) / b) * b;
}

/** Rows of the padded plane: every input row an output row's taps reach. */
function paddedHeight(q: ConvArgs): i32 {
  return q.outH + q.kernelH - 1;
}

/** Columns of the padded plane: whole tiles of output columns plus the kernel's reach. */
function paddedWidth(q: ConvArgs): i32 {
  return roundUp(q.outW, COLS) + q.kernelW - 1;
}

/** Where each buffer of a thread's direct-conv scratch starts. */
@unmanaged
export class Layout {
  offsets: usize;
  packed: usize;
  padded: usize;
  tile: usize;
}

function align(bytes: usize): usize {
  return (bytes + 63) & ~(<usize>63);
}

function layout(q: ConvArgs, scratch: usize, cin: i32, cout: i32, k: i32, at: Layout): Layout {
  at.offsets = scratch;
  at.packed = at.offsets + align(<usize>k * 4);
  at.padded = at.packed + align(<usize>(roundUp(cout, MR) * k) * 4);
  at.tile = at.padded + align(<usize>(cin * paddedHeight(q) * paddedWidth(q)) * 4);
  return at;
}

/**
 * Bytes of scratch the direct kernels need per thread, for cin input and cout output channels
 * per group, k = cin·kh·kw taps and an outH × outW output (the JavaScript side sizes with it).
 */
export function directScratchBytes(
  cin: i32,
  cout: i32,
  kernelH: i32,
  kernelW: i32,
  outH: i32,
  outW: i32,
): i32 {
  const k = cin * kernelH * kernelW;
  const plane = <usize>(cin * (outH + kernelH - 1) * (roundUp(outW, COLS) + kernelW - 1)) * 4;
  const packed = <usize>(roundUp(cout, MR) * k) * 4;
  return <i32>(align(<usize>k * 4) + align(packed) + align(plane) + <usize>(MR * COLS * 4));
}

/** Byte offset of tap t = (c, r, s) from an output's corner in the padded planes. */
function writeOffsets(q: ConvArgs, cin: i32, offsets: usize): void {
  const ph = paddedHeight(q);
  const pw = paddedWidth(q);
  let t = 0;
  for (let c = 0; c < cin; c++) {
    for (let r = 0; r < q.kernelH; r++) {
      for (let s = 0; s < q.kernelW; s++) {
        store<i32>(offsets + <usize>t * 4, ((c * ph + r) * pw + s) * 4);
        t++;
      }
    }
  }
}

/** Copies one sample's cin planes of x (at xo) into the zero-bordered padded planes. */
function padInput(q: ConvArgs, xo: usize, cin: i32, padded: usize): void {
  const ph = paddedHeight(q);
  const pw = paddedWidth(q);
  memory.fill(padded, 0, <usize>(cin * ph * pw) * 4);
  // Padded column jj holds input column jj − padLeft; padded row ii, input row ii − padTop.
  const lo = max(0, -q.padLeft);
  const hi = min(q.width, pw - q.padLeft);
  if (hi <= lo) return;
  const bytes = <usize>(hi - lo) * 4;
  for (let c = 0; c < cin; c++) {
    const plane = xo + <usize>(c * q.height * q.width) * 4;
    const dst = padded + <usize>(c * ph * pw) * 4;
    for (let ii = max(0, q.padTop); ii < min(ph, q.height + q.padTop); ii++) {
      const y = ii - q.padTop;
      memory.copy(
        dst + <usize>(ii * pw + lo + q.padLeft) * 4,
        plane + <usize>(y * q.width + lo) * 4,
        bytes,
      );
    }
  }
}

/** Prepares a task's scratch: tap offsets and, for the forward pass, group g's packed weights. */
export function directSetup(
  q: ConvArgs,
  scratch: usize,
  at: Layout,
  cin: i32,
  cout: i32,
  k: i32,
  wg: usize,
): void {
  layout(q, scratch, cin, cout, k, at);
  writeOffsets(q, cin, at.offsets);
  if (wg != 0) packA(wg, k, 1, 0, 0, cout, k, at.packed);
}

/**
 * y (rows yo, cout × Hout·Wout) = x ⋆ w for one sample and group, every output written once
 * (y needs no zeroing first); directSetup came first.
 *
 * Output rows go in pairs. A row's whole 8-column tiles run on tile4 (4 channels); its last
 * one to four columns, which a tile of their own would compute twice over, are stacked with
 * the same columns of the next row in one tile (B's second vector one padded row below the
 * first): LeNet's 28- and 10-wide rows take 7 and 3 tiles per pair instead of 8 and 4. The
 * last one or two channels (LeNet conv1's 6 = 4 + 2) take both rows' vectors at once
 * (tile2x4), so that their tile, too, keeps eight sums in flight.
 */
export function directForward(
  q: ConvArgs,
  at: Layout,
  xo: usize,
  yo: usize,
  cin: i32,
  cout: i32,
  k: i32,
): void {
  padInput(q, xo, cin, at.padded);
  const pitch = <usize>paddedWidth(q) * 4;
  const outW = q.outW;
  const rowBytes = <usize>outW * 4;
  const planeBytes = <usize>(q.outH * outW) * 4;
  const rest = outW & (COLS - 1);
  const stacked = rest > 0 && rest <= 4;
  const wide = stacked ? outW - rest : outW;
  for (let o = 0; o < cout; o += MR) {
    const h = min(MR, cout - o);
    const pa = at.packed + <usize>(o * k) * 4;
    const offs = at.offsets;
    const tile = at.tile;
    for (let i = 0; i < q.outH; i += 2) {
      const pair = i + 1 < q.outH;
      // The next row, in the padded planes and in y; a lone last row has none.
      const next = pair ? pitch : 0;
      const below = pair ? rowBytes : 0;
      const x = at.padded + <usize>i * pitch;
      const y = yo + <usize>o * planeBytes + <usize>i * rowBytes;
      for (let j = 0; j < wide; j += COLS) {
        const w = min(COLS, outW - j);
        const xj = x + <usize>j * 4;
        const yj = y + <usize>j * 4;
        if (h > 2) {
          tile4(pa, offs, k, xj, 16, yj, planeBytes, h, w, 0, tile);
          if (pair) tile4(pa, offs, k, xj + pitch, 16, yj + rowBytes, planeBytes, h, w, 0, tile);
        } else {
          tile2x4(pa, offs, k, xj, next, yj, planeBytes, h, w, below, tile);
        }
      }
      if (!stacked) continue;
      const xj = x + <usize>wide * 4;
      const yj = y + <usize>wide * 4;
      if (h > 2) {
        // The second vector: the next row's columns, or (the last of an odd number of rows)
        // columns past the row's end, computed and not written.
        tile4(pa, offs, k, xj, pair ? pitch : 16, yj, planeBytes, h, rest, below, tile);
      } else {
        tile2x4(pa, offs, k, xj, next, yj, planeBytes, h, rest, below, tile);
      }
    }
  }
}

// The forward micro-tiles, for one block of h ≤ 4 output channels whose packed weights start
// at pa: the GEMM's micro-kernels with B's vectors loaded from the padded input at each tap's
// offset instead of from a packed sliver. A tile's first vector starts at x, its second `next`
// bytes on (16: the row's next four columns; one padded row: the same columns one row down).
// Results go to y (rows ldy bytes apart), w columns wide; with `below` ≠ 0 the second vector's
// go to the next output row instead (y + below, and w ≤ 4). Each output is written once: y
// needs no zeroing.

/** 4 output channels × two vectors. */
function tile4(
  pa: usize,
  offsets: usize,
  k: i32,
  x: usize,
  next: usize,
  y: usize,
  ldy: usize,
  h: i32,
  w: i32,
  below: usize,
  tile: usize,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  for (let t = 0; t < k; t++) {
    const src = x + <usize>load<i32>(offsets + <usize>t * 4);
    const b0 = v128.load(src);
    const b1 = v128.load(src + next);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += MR * 4;
  }
  if (below == 0) {
    writeTile(y, ldy, h, w, tile, false, c00, c01, c10, c11, c20, c21, c30, c31);
    return;
  }
  writeTile(y, ldy, h, w, tile, false, c00, c00, c10, c10, c20, c20, c30, c30);
  writeTile(y + below, ldy, h, w, tile, false, c01, c01, c11, c11, c21, c21, c31, c31);
}

/**
 * The last one or two output channels × 8 columns of two output rows (the second row's vectors
 * `next` bytes below the first's, its results `below` bytes on; a lone last row passes 0 for
 * both and is summed twice): eight sums in flight, as in tile4. Four, for one row's two
 * vectors, would wait on the multiply-add's latency and take as long.
 */
function tile2x4(
  pa: usize,
  offsets: usize,
  k: i32,
  x: usize,
  next: usize,
  y: usize,
  ldy: usize,
  h: i32,
  w: i32,
  below: usize,
  tile: usize,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c02 = f32x4.splat(0);
  let c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c12 = f32x4.splat(0);
  let c13 = f32x4.splat(0);
  for (let t = 0; t < k; t++) {
    const src = x + <usize>load<i32>(offsets + <usize>t * 4);
    const b0 = v128.load(src);
    const b1 = v128.load(src, 16);
    const b2 = v128.load(src + next);
    const b3 = v128.load(src + next, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    c02 = madd(a, b2, c02);
    c03 = madd(a, b3, c03);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    c12 = madd(a, b2, c12);
    c13 = madd(a, b3, c13);
    pa += MR * 4;
  }
  writeTile2(y, ldy, h, w, tile, false, c00, c01, c10, c11);
  writeTile2(y + below, ldy, h, w, tile, false, c02, c03, c12, c13);
}

/**
 * dw (cout × k, row-major) += dy · colᵀ for one sample and group: each output row's positions
 * four at a time, with 4 channels × 2 taps of partial sums in f32x4 lanes, summed across lanes
 * at the end. Lanes past the row's end are masked to zero in both operands (0·∞ would be NaN).
 */
export function directFilter(
  q: ConvArgs,
  at: Layout,
  xo: usize,
  dyo: usize,
  dw: usize,
  cin: i32,
  cout: i32,
  k: i32,
): void {
  padInput(q, xo, cin, at.padded);
  const pw = paddedWidth(q);
  const outW = q.outW;
  const planeBytes = <usize>(q.outH * outW) * 4;
  const whole = outW & ~3;
  const keep = outW - whole;
  // All-ones in the lanes of the row's last partial vector that are inside the row.
  let mask = i32x4.splat(0);
  if (keep > 0) mask = i32x4.replace_lane(mask, 0, -1);
  if (keep > 1) mask = i32x4.replace_lane(mask, 1, -1);
  if (keep > 2) mask = i32x4.replace_lane(mask, 2, -1);
  for (let o = 0; o < cout; o += MR) {
    const h = min(MR, cout - o);
    if (h <= 2) {
      // A remainder of one or two channels (LeNet's conv1: 6 = 4 + 2) takes four taps at a
      // time instead of four rows of which half would be repeats.
      const rows = dyo + <usize>o * planeBytes;
      filterTwoRows(q, at, rows, planeBytes, dw + <usize>(o * k) * 4, h, k, mask);
      continue;
    }
    // Rows past cout repeat the last one; their sums are discarded.
    const d0 = dyo + <usize>o * planeBytes;
    const d1 = h > 1 ? d0 + planeBytes : d0;
    const d2 = h > 2 ? d1 + planeBytes : d1;
    const d3 = h > 3 ? d2 + planeBytes : d2;
    for (let t = 0; t < k; t += 2) {
      const t1 = min(t + 1, k - 1);
      const x0 = at.padded + <usize>load<i32>(at.offsets + <usize>t * 4);
      const x1 = at.padded + <usize>load<i32>(at.offsets + <usize>t1 * 4);
      let s00 = f32x4.splat(0);
      let s01 = f32x4.splat(0);
      let s10 = f32x4.splat(0);
      let s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0);
      let s21 = f32x4.splat(0);
      let s30 = f32x4.splat(0);
      let s31 = f32x4.splat(0);
      for (let i = 0; i < q.outH; i++) {
        const xRow = <usize>(i * pw) * 4;
        const dyRow = <usize>(i * outW) * 4;
        for (let j = 0; j < outW; j += 4) {
          const xAt = xRow + <usize>j * 4;
          const dyAt = dyRow + <usize>j * 4;
          let a = v128.load(x0 + xAt);
          let b = v128.load(x1 + xAt);
          let e0 = v128.load(d0 + dyAt);
          let e1 = v128.load(d1 + dyAt);
          let e2 = v128.load(d2 + dyAt);
          let e3 = v128.load(d3 + dyAt);
          if (j >= whole) {
            a = v128.and(a, mask);
            b = v128.and(b, mask);
            e0 = v128.and(e0, mask);
            e1 = v128.and(e1, mask);
            e2 = v128.and(e2, mask);
            e3 = v128.and(e3, mask);
          }
          s00 = madd(e0, a, s00);
          s01 = madd(e0, b, s01);
          s10 = madd(e1, a, s10);
          s11 = madd(e1, b, s11);
          s20 = madd(e2, a, s20);
          s21 = madd(e2, b, s21);
          s30 = madd(e3, a, s30);
          s31 = madd(e3, b, s31);
        }
      }
      const row = dw + <usize>(o * k) * 4;
      const rowBytes = <usize>k * 4;
      addLanes(row, t, t1, s00, s01);
      if (h > 1) addLanes(row + rowBytes, t, t1, s10, s11);
      if (h > 2) addLanes(row + 2 * rowBytes, t, t1, s20, s21);
      if (h > 3) addLanes(row + 3 * rowBytes, t, t1, s30, s31);
    }
  }
}

/**
 * directFilter's sums for h ≤ 2 channels of dy (from d0, planeBytes apart) against taps t…t+3:
 * eight f32x4 sums, as the four-row loop, with the same lane mask on each row's last vector.
 */
function filterTwoRows(
  q: ConvArgs,
  at: Layout,
  d0: usize,
  planeBytes: usize,
  dw: usize,
  h: i32,
  k: i32,
  mask: v128,
): void {
  const pw = paddedWidth(q);
  const outW = q.outW;
  const whole = outW & ~3;
  // A single channel repeats itself in the second row; its sums are discarded.
  const d1 = h > 1 ? d0 + planeBytes : d0;
  const rowBytes = <usize>k * 4;
  for (let t = 0; t < k; t += 4) {
    const x0 = at.padded + <usize>load<i32>(at.offsets + <usize>t * 4);
    const x1 = at.padded + <usize>load<i32>(at.offsets + <usize>min(t + 1, k - 1) * 4);
    const x2 = at.padded + <usize>load<i32>(at.offsets + <usize>min(t + 2, k - 1) * 4);
    const x3 = at.padded + <usize>load<i32>(at.offsets + <usize>min(t + 3, k - 1) * 4);
    let s00 = f32x4.splat(0);
    let s01 = f32x4.splat(0);
    let s02 = f32x4.splat(0);
    let s03 = f32x4.splat(0);
    let s10 = f32x4.splat(0);
    let s11 = f32x4.splat(0);
    let s12 = f32x4.splat(0);
    let s13 = f32x4.splat(0);
    for (let i = 0; i < q.outH; i++) {
      const xRow = <usize>(i * pw) * 4;
      const dyRow = <usize>(i * outW) * 4;
      for (let j = 0; j < outW; j += 4) {
        const xAt = xRow + <usize>j * 4;
        const dyAt = dyRow + <usize>j * 4;
        let a0 = v128.load(x0 + xAt);
        let a1 = v128.load(x1 + xAt);
        let a2 = v128.load(x2 + xAt);
        let a3 = v128.load(x3 + xAt);
        let e0 = v128.load(d0 + dyAt);
        let e1 = v128.load(d1 + dyAt);
        if (j >= whole) {
          a0 = v128.and(a0, mask);
          a1 = v128.and(a1, mask);
          a2 = v128.and(a2, mask);
          a3 = v128.and(a3, mask);
          e0 = v128.and(e0, mask);
          e1 = v128.and(e1, mask);
        }
        s00 = madd(e0, a0, s00);
        s01 = madd(e0, a1, s01);
        s02 = madd(e0, a2, s02);
        s03 = madd(e0, a3, s03);
        s10 = madd(e1, a0, s10);
        s11 = madd(e1, a1, s11);
        s12 = madd(e1, a2, s12);
        s13 = madd(e1, a3, s13);
      }
    }
    const taps = min(4, k - t);
    addFour(dw, t, taps, s00, s01, s02, s03);
    if (h > 1) addFour(dw + rowBytes, t, taps, s10, s11, s12, s13);
  }
}

/** row[t + l] += Σ lanes of the l-th sum, for the first `taps` of the four. */
function addFour(row: usize, t: i32, taps: i32, a: v128, b: v128, c: v128, d: v128): void {
  const p = row + <usize>t * 4;
  store<f32>(p, load<f32>(p) + laneSum(a));
  if (taps > 1) store<f32>(p + 4, load<f32>(p + 4) + laneSum(b));
  if (taps > 2) store<f32>(p + 8, load<f32>(p + 8) + laneSum(c));
  if (taps > 3) store<f32>(p + 12, load<f32>(p + 12) + laneSum(d));
}

/** row[t] += Σ lanes of a, and row[t1] += Σ lanes of b when t1 is another tap. */
function addLanes(row: usize, t: i32, t1: i32, a: v128, b: v128): void {
  const p = row + <usize>t * 4;
  store<f32>(p, load<f32>(p) + laneSum(a));
  if (t1 != t) {
    const p1 = row + <usize>t1 * 4;
    store<f32>(p1, load<f32>(p1) + laneSum(b));
  }
}

function laneSum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) +
    f32x4.extract_lane(v, 1) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}
