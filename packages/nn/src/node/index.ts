/**
 * Checkpoints on disk (Node only): safetensors files of any tree of tensors and numbers, and
 * the atomic write they use, for any other file a run keeps (an exported ONNX model).
 *
 * @module @tapegrad/nn/node
 */
export {
  saveCheckpoint,
  saveCheckpointSync,
  loadCheckpoint,
  loadCheckpointSync,
  writeFileAtomic,
} from "./checkpoint.js";
export type { Checkpoint } from "../safetensors.js";
