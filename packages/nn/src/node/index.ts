export {
  saveCheckpoint,
  saveCheckpointSync,
  loadCheckpoint,
  loadCheckpointSync,
} from "./checkpoint.js";
export type { Checkpoint } from "../safetensors.js";
