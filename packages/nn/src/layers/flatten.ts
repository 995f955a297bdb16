import { flatten as flattenOp } from "@tapegrad/autodiff";
import { statelessLayer, type Layer } from "../layer.js";
import { argumentError, show, type NoState } from "./check.js";

/**
 * Merges axes startAxis…endAxis into one (default: all but the batch axis, [N, C, H, W] →
 * [N, C·H·W], as PyTorch's Flatten). A reshape: its gradient is dy reshaped back.
 */
export function flatten(startAxis = 1, endAxis = -1): Layer<NoState, NoState> {
  for (const [name, value] of [
    ["startAxis", startAxis],
    ["endAxis", endAxis],
  ] as const) {
    if (!Number.isInteger(value)) {
      throw argumentError("flatten", `${name} must be an integer axis, got ${show(value)}`);
    }
  }
  return statelessLayer("flatten", (x) => flattenOp(x, startAxis, endAxis));
}
