/**
 * Checkpoints on disk (Node only): safetensors files of any tree of tensors and numbers.
 *
 * @module @tapegrad/nn/node
 */
export {
  saveCheckpoint,
  saveCheckpointSync,
  loadCheckpoint,
  loadCheckpointSync,
} from "./checkpoint.js";
export type { Checkpoint } from "../safetensors.js";
