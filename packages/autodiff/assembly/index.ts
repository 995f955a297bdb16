// The kernels the wasm backend exports. Every `…Task(args, tid, threads)` is run by the main
// thread as tid 0 and by each pool worker with its own tid, all on one shared memory; `args`
// points at the task's i32 arguments, which the JavaScript side writes before dispatching.

export { gemmScratchBytes, gemmF32 } from "./gemm";
export { gemmF64ScratchBytes } from "./gemm64";
export { matmulTask } from "./matmul";
export {
  conv2dTask,
  conv2dBackpropInputTask,
  conv2dBackpropFilterTask,
  convPlanBytes,
} from "./conv";
export { directScratchBytes } from "./convDirect";
export {
  addF32,
  unaryF32,
  unaryTask,
  geluGradTask,
  binaryRowsF32,
  biasActivationF32,
  zeroBytes,
} from "./elementwise";
export { maxPool2x2F32, maxPool2x2BackwardF32, avgPool2x2F32, avgPool2x2BackwardF32 } from "./pool";

/** Where the JavaScript side's arena may begin: after any static data the compiler placed. */
export function heapBase(): usize {
  return __heap_base;
}
export { sumF32, scatterAddF32 } from "./reduce";
export { shiftedSumsF32, scaleShiftF32, batchNormSumsF32, batchNormInputGradF32 } from "./norm";
export { layerNormF32, layerNormBackwardF32 } from "./layerNorm";
export { adamF32 } from "./optim";
export { attentionForwardF32, attentionBackwardF32 } from "./attention";
export { lstmCellF32, lstmCellBackwardF32, gruCellF32, gruCellBackwardF32 } from "./recurrent";
