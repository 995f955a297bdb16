import { setFlagsFromString } from "node:v8";

// V8 compiles WebAssembly with its baseline compiler (Liftoff) first and swaps in optimised code
// only between calls. jax-js generates one module per kernel at run time, so the first call of
// each kernel (seconds at these sizes) would run entirely on baseline code and a warm-up would
// cost up to ~30 s per cell. Compiling every module with the optimising tier up front makes
// the warm-up short; it changes no steady-state timing (tapegrad's and tfjs's wasm kernels are
// tiered up after their first calls anyway). Flags must be set before any module is compiled,
// hence the dynamic import.
setFlagsFromString("--no-liftoff");
// Relaxed SIMD, whose fused multiply-add tapegrad's wasm GEMM uses, ships in Node ≥ 22 and is
// behind this flag in Node 20; every peer runs in the same process with the same flags.
setFlagsFromString("--experimental-wasm-relaxed-simd");
// Lets timing.ts run a full collection before each cell.
setFlagsFromString("--expose-gc");

await import("./main.js");
