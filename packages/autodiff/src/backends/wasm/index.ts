import { registerBackend } from "../backend.js";
import { wasmElementwiseKernels } from "./elementwise.js";
import { wasmKernels } from "./kernels.js";
import { wasmNormKernels } from "./norm.js";
import { wasmPoolKernels } from "./pooling.js";
import { wasmReduceKernels } from "./reduce.js";
import { wasmRuntime } from "./runtime.js";

export { setWasmThreads, wasmThreads } from "./threads.js";

/** Whether this host runs the wasm backend: WebAssembly with 128-bit SIMD. */
export function wasmAvailable(): boolean {
  return wasmRuntime() !== null;
}

/**
 * WebAssembly SIMD kernels: float32 (and float64) matmul, float32 conv2d and its backprops, 2×2
 * pooling, batch norm, sum, scatter-add and simple elementwise ops; products split over threads sharing one
 * memory where the host allows it. Preferred over js (priority 1) wherever it is available.
 */
registerBackend({
  name: "wasm",
  kernels: {
    ...wasmElementwiseKernels,
    ...wasmReduceKernels,
    ...wasmPoolKernels,
    ...wasmNormKernels,
    ...wasmKernels,
  },
  priority: 1,
  isAvailable: wasmAvailable,
});
