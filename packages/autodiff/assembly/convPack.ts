import { ConvArgs } from "./convArgs";

// The conv forward's B operand packed straight from x: op(B)(p, j) is input cell (c, y, x) of
// tap p = (c, r, s) at output position j = (sample, i, jj) of a chunk, the column matrix that
// im2col would write, so the forward pass never writes or rereads that matrix.

/**
 * Packs the kc×nc block at (pc, jc) of the chunk's column matrix into `sliver`-wide slivers
 * (zero-padded), reading x: `x` is sample 0 of the chunk at group g, samples `sampleBytes`
 * apart, `cin` channels per group.
 */
export function packConvB(
  q: ConvArgs,
  x: usize,
  sampleBytes: i32,
  pc: i32,
  jc: i32,
  kc: i32,
  nc: i32,
  sliver: i32,
  dst: usize,
): void {
  const outW = q.outW;
  const positions = q.outH * outW;
  const taps = q.kernelH * q.kernelW;
  const height = q.height;
  const width = q.width;
  for (let jr = 0; jr < nc; jr += sliver) {
    const w = min(sliver, nc - jr);
    const j = jc + jr;
    const sample = j / positions;
    const position = j - sample * positions;
    const i = position / outW;
    const jj = position - i * outW;
    const xs = x + <usize>sample * sampleBytes;
    // All `sliver` columns in one output row, read from consecutive input cells.
    const oneRow = w == sliver && jj + sliver <= outW && q.strideW == 1;
    let c = pc / taps;
    let r = (pc - c * taps) / q.kernelW;
    let s = pc - c * taps - r * q.kernelW;
    for (let p = 0; p < kc; p++) {
      const y = i * q.strideH + r * q.dilationH - q.padTop;
      const x0 = jj * q.strideW + s * q.dilationW - q.padLeft;
      const plane = xs + <usize>(c * height * width) * 4;
      if (oneRow && (y < 0 || y >= height)) {
        v128.store(dst, i32x4.splat(0));
        v128.store(dst, i32x4.splat(0), 16);
      } else if (oneRow && x0 >= 0 && x0 + sliver <= width) {
        const src = plane + <usize>(y * width + x0) * 4;
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      } else if (oneRow) {
        // A row that runs into the left or right padding.
        const row = plane + <usize>(y * width) * 4;
        for (let l = 0; l < sliver; l++) {
          const xl = x0 + l;
          const value: f32 = xl >= 0 && xl < width ? load<f32>(row + <usize>xl * 4) : 0;
          store<f32>(dst + <usize>l * 4, value);
        }
      } else {
        for (let l = 0; l < sliver; l++) {
          let value: f32 = 0;
          if (l < w) {
            // Column j + l may start a new output row or sample: locate it from scratch.
            const jl = j + l;
            const sl = jl / positions;
            const pl = jl - sl * positions;
            const il = pl / outW;
            const jjl = pl - il * outW;
            const yl = il * q.strideH + r * q.dilationH - q.padTop;
            const xl = jjl * q.strideW + s * q.dilationW - q.padLeft;
            if (yl >= 0 && yl < height && xl >= 0 && xl < width) {
              const at = x + <usize>sl * sampleBytes + <usize>((c * height + yl) * width + xl) * 4;
              value = load<f32>(at);
            }
          }
          store<f32>(dst + <usize>l * 4, value);
        }
      }
      dst += <usize>sliver * 4;
      // Next tap: s, then r, then c.
      if (++s == q.kernelW) {
        s = 0;
        if (++r == q.kernelH) {
          r = 0;
          c++;
        }
      }
    }
  }
}

function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}
