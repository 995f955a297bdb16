import { cast, greaterEqual, mul } from "@tapegrad/autodiff";
import { statelessLayer, type Layer } from "../layer.js";
import { numberIn, stateError, type NoState } from "./check.js";

/**
 * Inverted dropout: in training mode each element is kept with probability 1 − p and scaled by
 * 1/(1 − p), so the expected output equals x; in eval mode it is the identity. The mask is drawn
 * from `ctx.rng` (required in training) and is a constant: the gradient is dy·mask, from mul.
 */
export function dropout(p = 0.5): Layer<NoState, NoState> {
  const rate = numberIn("dropout", "p", p, 0, 1, true);
  return statelessLayer("dropout", (x, ctx) => {
    if (!ctx.training || rate === 0) return x;
    if (typeof ctx.rng?.uniform !== "function") {
      throw stateError(
        "dropout",
        "training mode needs ctx.rng to draw the dropout mask, got none; " +
          "pass { training: true, rng } (or { training: false } to evaluate)",
      );
    }
    const dtype = x.dtype === "float64" ? "float64" : "float32";
    const u = ctx.rng.uniform(x.shape, { dtype });
    const mask = mul(cast(greaterEqual(u, rate), dtype), 1 / (1 - rate));
    return mul(x, mask);
  });
}
