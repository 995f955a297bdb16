/** Conv geometry as the JavaScript side writes it: consecutive i32s at `args`. */
@unmanaged
export class ConvArgs {
  x: usize;
  w: usize;
  y: usize;
  batch: i32;
  inChannels: i32;
  height: i32;
  width: i32;
  outChannels: i32;
  kernelH: i32;
  kernelW: i32;
  strideH: i32;
  strideW: i32;
  padTop: i32;
  padLeft: i32;
  dilationH: i32;
  dilationW: i32;
  groups: i32;
  outH: i32;
  outW: i32;
  /** Thread t's scratch starts at scratch + t·scratchStride. */
  scratch: usize;
  scratchStride: i32;
  /** Filter gradient: chunk c sums into its own zeroed dw at partials + c·size. */
  partials: usize;
  /** Samples per GEMM: their column matrices side by side make one wide product. */
  chunk: i32;
  /** Not 0: stride 1, dilation 1 and few output channels, done by convDirect.ts. */
  direct: i32;
  /** The next chunk of samples no thread has taken yet (0 when the call starts). */
  nextChunk: i32;
}
