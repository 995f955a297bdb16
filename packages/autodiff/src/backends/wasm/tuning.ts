// The wasm backend's size thresholds and kernel choices, in one place. Each threshold keeps
// calls where they run fastest (small ones in js, where a call costs no copies, or on one
// thread); the values were chosen by measurement: see
// docs/performance.md#wasm-thresholds-and-kernel-choices.
// Tests lower them so that small inputs reach every wasm code path, and put them back with
// `Object.assign(wasmTuning, defaultWasmTuning)`.

/** @internal The wasm backend's thresholds; tests set them, the kernels only read them. */
export interface WasmTuning {
  /**
   * matmul and conv2d (all passes): products of fewer multiply-adds stay in js. Tests set 0 so
   * that every float32 product, however small, runs in wasm.
   */
  minProductWork: number;
  /**
   * A product splits over threads only with at least this many multiply-adds per thread. Tests
   * set 1 so that small products split and the thread-count equivalence tests see several.
   */
  minThreadWork: number;
  /**
   * The same for the convolutions, whose threads claim chunks of samples as they come free (a
   * late worker costs them nothing, so they split from less). Tests set 1, as minThreadWork.
   */
  minClaimWork: number;
  /**
   * Whether a job stays on one thread when the pool's last lag exceeds what threads would save.
   * Tests set false so that whether a job splits does not depend on the machine's load.
   */
  lagAware: boolean;
  /**
   * Stride-1, undilated convolutions other than 1×1 run forward (and, with 8 or more input
   * channels per group and rows 8 wide, backward to the input) on the direct kernels of
   * assembly/convDirect.ts instead of im2col + GEMM. Tests run every case both ways.
   */
  directForward: boolean;
  /**
   * Those convolutions' filter gradient runs on the direct kernel up to this many output
   * channels per group (the GEMM above). Tests set 0 and Infinity to run both kernels.
   */
  directFilterMaxChannels: number;
  /** Elementwise ops and Adam: shorter float32 arrays stay in js. Tests set 0. */
  minElementwiseLength: number;
  /** 2×2 pooling, forward and backward: smaller inputs stay in js. Tests set 0. */
  minPoolingLength: number;
  /** Batch and layer norm's kernels: smaller inputs stay in js. Tests set 0. */
  minNormLength: number;
  /** sum and scatter-add: shorter arrays stay in js. Tests set 0. */
  minReduceLength: number;
  /**
   * The most bytes of the resident-output ring in use (runtime/residency.ts; it never exceeds
   * its reserve). Tests shrink it so that outputs wrap over each other, or set 0 to keep none.
   */
  maxRingBytes: number;
}

/** @internal The values the backend ships with. */
export const defaultWasmTuning: Readonly<WasmTuning> = Object.freeze({
  minProductWork: 4096,
  minThreadWork: 1 << 22,
  minClaimWork: 1 << 21,
  lagAware: true,
  directForward: true,
  directFilterMaxChannels: 8,
  minElementwiseLength: 2048,
  minPoolingLength: 4096,
  minNormLength: 4096,
  minReduceLength: 2048,
  maxRingBytes: Infinity,
});

/** @internal The thresholds in use: defaultWasmTuning unless a test has changed them. */
export const wasmTuning: WasmTuning = { ...defaultWasmTuning };
