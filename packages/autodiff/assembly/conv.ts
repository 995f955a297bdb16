// im2col + GEMM convolutions, the same loops as ../src/kernels/conv.ts (whose header defines the
// index letters and layouts) on float32 in wasm memory. Each thread takes a contiguous range of
// samples and owns a slice of scratch: GEMM packing buffers, a column matrix and a staging matrix.
// Samples go through the GEMM `chunk` at a time: their column matrices sit side by side in one
// [K, chunk·P] matrix, so a small layer (LeNet's P = 64 positions) still makes one wide product
// that packs the weights once. Where P is a multiple of the GEMM's tile width, the product
// writes y and reads dy in their NCHW layout directly (block-strided columns, see gemm.ts);
// elsewhere the [Cout, chunk·P] result or gradient is staged and copied once.

import { ConvArgs } from "./convArgs";
import { directFilter, directForward, directSetup, Layout } from "./convDirect";
import { Blocks, gemmF32, gemmF32Blocked, gemmScratchBytes, NR } from "./gemm";

function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

function max(a: i32, b: i32): i32 {
  return a > b ? a : b;
}

/** ceil(a / b) for b > 0 and any sign of a. */
function ceilDiv(a: i32, b: i32): i32 {
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

/** The first output column whose input column j·stride + shift is ≥ 0, clamped to [0, out]. */
function rangeLo(shift: i32, stride: i32, outSize: i32): i32 {
  return min(outSize, max(0, ceilDiv(-shift, stride)));
}

/** One past the last output column whose input column is < size, at least lo. */
function rangeHi(shift: i32, stride: i32, size: i32, outSize: i32, lo: i32): i32 {
  return max(lo, min(outSize, ceilDiv(size - shift, stride)));
}

/** dst[0…count) = src[0…count), 4 floats at a time (memory.copy costs a call per short row). */
function copyF32(dst: usize, src: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(dst + <usize>i * 4, v128.load(src + <usize>i * 4));
  for (; i < count; i++) store<f32>(dst + <usize>i * 4, load<f32>(src + <usize>i * 4));
}

function zeroF32(dst: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(dst + <usize>i * 4, f32x4.splat(0));
  for (; i < count; i++) store<f32>(dst + <usize>i * 4, 0);
}

/** dst[0…count) += src[0…count). */
function addF32Row(dst: usize, src: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const d = dst + <usize>i * 4;
    v128.store(d, f32x4.add(v128.load(d), v128.load(src + <usize>i * 4)));
  }
  for (; i < count; i++) {
    const d = dst + <usize>i * 4;
    store<f32>(d, load<f32>(d) + load<f32>(src + <usize>i * 4));
  }
}

/**
 * Fills the P columns of col [K, ld] that start at `col` from the cin channels of x that start
 * at xo (one sample, one group); rows are ld floats apart.
 */
function im2col(q: ConvArgs, xo: usize, col: usize, cin: i32, ld: i32): void {
  const height = q.height;
  const width = q.width;
  const outH = q.outH;
  const outW = q.outW;
  const strideW = q.strideW;
  const planeBytes = <usize>(height * width) * 4;
  let row = col;
  for (let c = 0; c < cin; c++) {
    const plane = xo + <usize>c * planeBytes;
    for (let r = 0; r < q.kernelH; r++) {
      const yShift = r * q.dilationH - q.padTop;
      for (let s = 0; s < q.kernelW; s++) {
        const xShift = s * q.dilationW - q.padLeft;
        const lo = rangeLo(xShift, strideW, outW);
        const hi = rangeHi(xShift, strideW, width, outW, lo);
        let out = row;
        if (strideW == 1 && lo == 0 && hi == outW) {
          // Rows clear of the left and right padding (most taps of most convs): whole-row
          // copies, without the two zero fills per row.
          for (let i = 0; i < outH; i++) {
            const y = i * q.strideH + yShift;
            if (y < 0 || y >= height) {
              zeroF32(out, outW);
            } else {
              copyF32(out, plane + <usize>(y * width + xShift) * 4, outW);
            }
            out += <usize>outW * 4;
          }
          row += <usize>ld * 4;
          continue;
        }
        for (let i = 0; i < outH; i++) {
          const y = i * q.strideH + yShift;
          if (y < 0 || y >= height) {
            zeroF32(out, outW);
          } else {
            const src = plane + <usize>(y * width + xShift) * 4;
            zeroF32(out, lo);
            if (strideW == 1) {
              copyF32(out + <usize>lo * 4, src + <usize>lo * 4, hi - lo);
            } else {
              for (let j = lo; j < hi; j++) {
                store<f32>(out + <usize>j * 4, load<f32>(src + <usize>(j * strideW) * 4));
              }
            }
            zeroF32(out + <usize>hi * 4, outW - hi);
          }
          out += <usize>outW * 4;
        }
        row += <usize>ld * 4;
      }
    }
  }
}

/**
 * The adjoint of im2col: adds every entry of the P columns of col [K, ld] that start at `col`
 * into the input cell it was read from.
 */
function col2im(q: ConvArgs, col: usize, dxo: usize, cin: i32, ld: i32): void {
  const height = q.height;
  const width = q.width;
  const outH = q.outH;
  const outW = q.outW;
  const strideW = q.strideW;
  const planeBytes = <usize>(height * width) * 4;
  let row = col;
  for (let c = 0; c < cin; c++) {
    const plane = dxo + <usize>c * planeBytes;
    for (let r = 0; r < q.kernelH; r++) {
      const yShift = r * q.dilationH - q.padTop;
      for (let s = 0; s < q.kernelW; s++) {
        const xShift = s * q.dilationW - q.padLeft;
        const lo = rangeLo(xShift, strideW, outW);
        const hi = rangeHi(xShift, strideW, width, outW, lo);
        if (strideW == 1) {
          // Rows of the padding are skipped whole, not checked one by one.
          const iLo = max(0, ceilDiv(-yShift, q.strideH));
          const iHi = min(outH, ceilDiv(height - yShift, q.strideH));
          for (let i = iLo; i < iHi; i++) {
            const y = i * q.strideH + yShift;
            const dst = plane + <usize>(y * width + xShift + lo) * 4;
            addF32Row(dst, row + <usize>(i * outW + lo) * 4, hi - lo);
          }
          row += <usize>ld * 4;
          continue;
        }
        for (let i = 0; i < outH; i++) {
          const y = i * q.strideH + yShift;
          if (y >= 0 && y < height) {
            const dst = plane + <usize>(y * width + xShift) * 4;
            const src = row + <usize>i * outW * 4;
            if (strideW == 1) {
              addF32Row(dst + <usize>lo * 4, src + <usize>lo * 4, hi - lo);
            } else {
              for (let j = lo; j < hi; j++) {
                const d = dst + <usize>(j * strideW) * 4;
                store<f32>(d, load<f32>(d) + load<f32>(src + <usize>j * 4));
              }
            }
          }
        }
        row += <usize>ld * 4;
      }
    }
  }
}

/** A 1×1, stride-1, unpadded convolution's column matrix is the input itself. */
function isPointwise(q: ConvArgs): bool {
  return (
    q.kernelH == 1 &&
    q.kernelW == 1 &&
    q.strideH == 1 &&
    q.strideW == 1 &&
    q.padTop == 0 &&
    q.padLeft == 0 &&
    q.outH == q.height &&
    q.outW == q.width
  );
}

/**
 * The next chunk for the calling thread to run, or ≥ the chunk count when all are taken: chunk c
 * holds samples [c·chunk, (c + 1)·chunk). Threads take chunks as they come free, so a thread the
 * scheduler runs late takes fewer (the pool runs such a job without waiting for threads that
 * have not started it). What a chunk computes never depends on which thread runs it, or on how
 * many there are, so neither does any result.
 */
function claimChunk(q: ConvArgs): i32 {
  const counter = changetype<usize>(q) + offsetof<ConvArgs>("nextChunk");
  if (ASC_FEATURE_THREADS) return atomic.add<i32>(counter, 1);
  const chunk = load<i32>(counter);
  store<i32>(counter, chunk + 1);
  return chunk;
}

/** What every task derives from the arguments and its thread index. */
@unmanaged
class Plan {
  cin: i32;
  cout: i32;
  /** Rows of one group's column matrix, Cin/groups·kh·kw. */
  k: i32;
  /** Output positions per sample, Hout·Wout. */
  p: i32;
  /** Chunks of samples in the batch. */
  chunks: i32;
  gemmScratch: usize;
  col: usize;
  /** [cout, chunk·P]: forward results or gathered dy, per group. */
  staged: usize;
  /** Block layout record for gemmF32Blocked, in the plan's own bytes. */
  blocks: Blocks;
  /** Where the direct kernels' buffers are (in place of col and staged), in the plan's bytes. */
  direct: Layout;
  pointwise: bool;
}

/** Bytes at the start of each thread's scratch that hold its Plan. */
const PLAN_BYTES: usize = 128;

/** PLAN_BYTES, for the JavaScript side, which sizes each thread's conv scratch. */
export function convPlanBytes(): i32 {
  return <i32>PLAN_BYTES;
}

function makePlan(q: ConvArgs, tid: i32): Plan {
  // Each thread keeps its plan in its own scratch: static data would be shared by all threads.
  const plan = changetype<Plan>(q.scratch + <usize>tid * q.scratchStride);
  plan.cin = q.inChannels / q.groups;
  plan.cout = q.outChannels / q.groups;
  plan.k = plan.cin * q.kernelH * q.kernelW;
  plan.p = q.outH * q.outW;
  plan.chunks = (q.batch + q.chunk - 1) / q.chunk;
  plan.gemmScratch = changetype<usize>(plan) + PLAN_BYTES;
  plan.col = plan.gemmScratch + <usize>gemmScratchBytes();
  plan.staged = plan.col + <usize>(plan.k * q.chunk * plan.p) * 4;
  plan.blocks = changetype<Blocks>(changetype<usize>(plan) + 64);
  plan.direct = changetype<Layout>(changetype<usize>(plan) + 96);
  plan.pointwise = isPointwise(q);
  return plan;
}

/** Address of sample n, group g of an NCHW tensor with `channels` planes of `size` per group. */
function plane(base: usize, q: ConvArgs, n: i32, g: i32, channels: i32, size: i32): usize {
  return base + <usize>((n * q.groups + g) * channels * size) * 4;
}

/** y += x ⋆ w for this thread's chunks of samples. */
export function conv2dTask(args: usize, tid: i32, threads: i32): void {
  const q = changetype<ConvArgs>(args);
  const t = makePlan(q, tid);
  const k = t.k;
  const p = t.p;
  const hw = q.height * q.width;
  for (let chunk = claimChunk(q); chunk < t.chunks; chunk = claimChunk(q)) {
    const n0 = chunk * q.chunk;
    const count = min(q.chunk, q.batch - n0);
    const wide = count * p;
    for (let g = 0; g < q.groups; g++) {
      const wg = q.w + <usize>(g * t.cout * k) * 4;
      if (q.direct != 0) {
        directSetup(q, t.col, t.direct, t.cin, t.cout, k, wg);
        for (let n = n0; n < n0 + count; n++) {
          const xo = plane(q.x, q, n, g, t.cin, hw);
          directForward(q, t.direct, xo, plane(q.y, q, n, g, t.cout, p), t.cin, t.cout, k);
        }
        continue;
      }
      if (t.pointwise || count == 1) {
        for (let n = n0; n < n0 + count; n++) {
          const xo = plane(q.x, q, n, g, t.cin, hw);
          const yo = plane(q.y, q, n, g, t.cout, p);
          let b = xo;
          if (!t.pointwise) {
            im2col(q, xo, t.col, t.cin, p);
            b = t.col;
          }
          gemmF32(wg, k, 1, b, p, 1, yo, p, t.cout, k, p, t.gemmScratch);
        }
        continue;
      }
      const y0 = plane(q.y, q, n0, g, t.cout, p);
      if (p % NR == 0) {
        // The product's columns go straight to each sample's [cout, P] slice of y. With short
        // output rows B is packed straight from x too; longer rows are cheaper to copy whole
        // into a column matrix first (docs/performance.md#wasm-thresholds-and-kernel-choices).
        const blocks = t.blocks;
        blocks.b = 0;
        blocks.c = p;
        blocks.cStride = q.groups * t.cout * p * 4;
        blocks.conv = 0;
        blocks.overwrite = 0;
        let b = t.col;
        if (q.outW <= 2 * NR) {
          blocks.conv = changetype<usize>(q);
          blocks.convX = plane(q.x, q, n0, g, t.cin, hw);
          blocks.convSampleBytes = q.groups * t.cin * hw * 4;
          b = 0;
        } else {
          for (let s = 0; s < count; s++) {
            const xo = plane(q.x, q, n0 + s, g, t.cin, hw);
            im2col(q, xo, t.col + <usize>(s * p) * 4, t.cin, wide);
          }
        }
        gemmF32Blocked(wg, k, 1, b, wide, 1, y0, p, t.cout, k, wide, t.gemmScratch, blocks);
        continue;
      }
      for (let s = 0; s < count; s++) {
        im2col(q, plane(q.x, q, n0 + s, g, t.cin, hw), t.col + <usize>(s * p) * 4, t.cin, wide);
      }
      zeroF32(t.staged, t.cout * wide);
      gemmF32(wg, k, 1, t.col, wide, 1, t.staged, wide, t.cout, k, wide, t.gemmScratch);
      for (let s = 0; s < count; s++) {
        const yo = plane(q.y, q, n0 + s, g, t.cout, p);
        for (let o = 0; o < t.cout; o++) {
          addF32Row(yo + <usize>(o * p) * 4, t.staged + <usize>(o * wide + s * p) * 4, p);
        }
      }
    }
  }
}

/** Copies dy of `count` samples from n0, group g, into staged [cout, count·P]. */
function gatherDy(q: ConvArgs, t: Plan, n0: i32, count: i32, g: i32): void {
  const p = t.p;
  const wide = count * p;
  for (let s = 0; s < count; s++) {
    const dyo = plane(q.y, q, n0 + s, g, t.cout, p);
    for (let o = 0; o < t.cout; o++) {
      copyF32(t.staged + <usize>(o * wide + s * p) * 4, dyo + <usize>(o * p) * 4, p);
    }
  }
}

/** dx += the gradient of conv2d with respect to x (q.x is dx, q.y is dy), this thread's chunks. */
export function conv2dBackpropInputTask(args: usize, tid: i32, threads: i32): void {
  const q = changetype<ConvArgs>(args);
  const t = makePlan(q, tid);
  const k = t.k;
  const p = t.p;
  const hw = q.height * q.width;
  for (let chunk = claimChunk(q); chunk < t.chunks; chunk = claimChunk(q)) {
    const n0 = chunk * q.chunk;
    const count = min(q.chunk, q.batch - n0);
    const wide = count * p;
    for (let g = 0; g < q.groups; g++) {
      const wg = q.w + <usize>(g * t.cout * k) * 4;
      // col = w[g]ᵀ · dy, then col2im; a pointwise conv adds straight into dx.
      if (t.pointwise || count == 1) {
        for (let n = n0; n < n0 + count; n++) {
          const dxo = plane(q.x, q, n, g, t.cin, hw);
          const dyo = plane(q.y, q, n, g, t.cout, p);
          if (t.pointwise) {
            gemmF32(wg, 1, k, dyo, p, 1, dxo, p, k, t.cout, p, t.gemmScratch);
            continue;
          }
          zeroF32(t.col, k * p);
          gemmF32(wg, 1, k, dyo, p, 1, t.col, p, k, t.cout, p, t.gemmScratch);
          col2im(q, t.col, dxo, t.cin, p);
        }
        continue;
      }
      // The product writes every entry of col: no zeroing first (overwrite).
      const blocks = t.blocks;
      blocks.c = 0;
      blocks.conv = 0;
      blocks.overwrite = 1;
      if (p % NR == 0) {
        // The product reads each sample's [cout, P] slice of dy in place.
        blocks.b = p;
        blocks.bStride = q.groups * t.cout * p * 4;
        const dy0 = plane(q.y, q, n0, g, t.cout, p);
        gemmF32Blocked(wg, 1, k, dy0, p, 1, t.col, wide, k, t.cout, wide, t.gemmScratch, blocks);
      } else {
        gatherDy(q, t, n0, count, g);
        blocks.b = 0;
        const dy = t.staged;
        gemmF32Blocked(wg, 1, k, dy, wide, 1, t.col, wide, k, t.cout, wide, t.gemmScratch, blocks);
      }
      for (let s = 0; s < count; s++) {
        col2im(q, t.col + <usize>(s * p) * 4, plane(q.x, q, n0 + s, g, t.cin, hw), t.cin, wide);
      }
    }
  }
}

/** The gradient of conv2d with respect to w (q.y is dy) for each of this thread's chunks. */
export function conv2dBackpropFilterTask(args: usize, tid: i32, threads: i32): void {
  const q = changetype<ConvArgs>(args);
  const t = makePlan(q, tid);
  const k = t.k;
  const p = t.p;
  const hw = q.height * q.width;
  const dwSize = <usize>(q.outChannels * k) * 4;
  for (let chunk = claimChunk(q); chunk < t.chunks; chunk = claimChunk(q)) {
    const n0 = chunk * q.chunk;
    const count = min(q.chunk, q.batch - n0);
    const wide = count * p;
    // Each chunk sums into its own zeroed partial, which the caller adds into dw in chunk
    // order: the same sums in the same order whatever the thread count.
    const dw = q.partials + <usize>chunk * dwSize;
    for (let g = 0; g < q.groups; g++) {
      const dwg = dw + <usize>(g * t.cout * k) * 4;
      if (q.direct != 0) {
        directSetup(q, t.col, t.direct, t.cin, t.cout, k, 0);
        for (let n = n0; n < n0 + count; n++) {
          const xo = plane(q.x, q, n, g, t.cin, hw);
          directFilter(q, t.direct, xo, plane(q.y, q, n, g, t.cout, p), dwg, t.cin, t.cout, k);
        }
        continue;
      }
      // dw[g] (cout × k) += dy (cout × wide) · colᵀ (wide × k, stored k × wide).
      if (t.pointwise || count == 1) {
        for (let n = n0; n < n0 + count; n++) {
          const xo = plane(q.x, q, n, g, t.cin, hw);
          const dyo = plane(q.y, q, n, g, t.cout, p);
          let b = xo;
          if (!t.pointwise) {
            im2col(q, xo, t.col, t.cin, p);
            b = t.col;
          }
          gemmF32(dyo, p, 1, b, 1, p, dwg, k, t.cout, p, k, t.gemmScratch);
        }
        continue;
      }
      gatherDy(q, t, n0, count, g);
      for (let s = 0; s < count; s++) {
        im2col(q, plane(q.x, q, n0 + s, g, t.cin, hw), t.col + <usize>(s * p) * 4, t.cin, wide);
      }
      gemmF32(t.staged, wide, 1, t.col, 1, wide, dwg, k, t.cout, wide, k, t.gemmScratch);
    }
  }
}
