import { registerBackend } from "../backend.js";
import { wasmAttentionKernels } from "./kernels/attention.js";
import { wasmElementwiseKernels } from "./kernels/elementwise.js";
import { wasmMatmulKernels } from "./kernels/matmul.js";
import { wasmConvKernels } from "./kernels/conv.js";
import { wasmLayerNormKernels } from "./kernels/layerNorm.js";
import { wasmNormKernels } from "./kernels/norm.js";
import { wasmOptimKernels } from "./kernels/optim.js";
import { wasmPoolKernels } from "./kernels/pooling.js";
import { wasmRecurrentKernels } from "./kernels/recurrent.js";
import { wasmReduceKernels } from "./kernels/reduce.js";
import { wasmRuntime, type ModuleVariant } from "./runtime/wasmRuntime.js";

export { setWasmThreads, wasmThreads } from "./runtime/threads.js";
export type { ModuleVariant } from "./runtime/wasmRuntime.js";

/**
 * The build of the wasm kernels this host runs: `relaxed` (fused multiply-add through relaxed
 * SIMD: Node ≥ 22, Chrome ≥ 114, or Node 20 started with --experimental-wasm-relaxed-simd),
 * `shared` (baseline SIMD, worker pool), `local` (one thread), or null without WebAssembly SIMD.
 */
export function wasmVariant(): ModuleVariant | null {
  return wasmRuntime()?.variant ?? null;
}

/** Whether this host runs the wasm backend: WebAssembly with 128-bit SIMD. */
export function wasmAvailable(): boolean {
  return wasmRuntime() !== null;
}

/**
 * WebAssembly SIMD kernels: float32 (and float64) matmul, float32 conv2d and its backprops,
 * float32 attention (every head in one call), 2×2 pooling, batch and layer norm, Adam, sum,
 * scatter-add, the LSTM cell, and elementwise ops (exp, tanh, sigmoid, erf and GELU among them);
 * products and transcendental functions split over threads sharing one memory where the host
 * allows it. Preferred over js (priority 1) wherever it is available.
 */
registerBackend({
  name: "wasm",
  kernels: {
    ...wasmElementwiseKernels,
    ...wasmReduceKernels,
    ...wasmPoolKernels,
    ...wasmNormKernels,
    ...wasmLayerNormKernels,
    ...wasmOptimKernels,
    ...wasmMatmulKernels,
    ...wasmConvKernels,
    ...wasmAttentionKernels,
    ...wasmRecurrentKernels,
  },
  priority: 1,
  isAvailable: wasmAvailable,
  planned: (dtype, size) => wasmRuntime()?.planned(dtype, size),
});
