import {
  gelu as geluOp,
  leakyRelu as leakyReluOp,
  logSoftmax as logSoftmaxOp,
  type GeluAttrs,
  relu as reluOp,
  sigmoid as sigmoidOp,
  softmax as softmaxOp,
  tanh as tanhOp,
} from "@tapegrad/autodiff";
import { statelessLayer, type Layer } from "../layer.js";
import { argumentError, show, type NoState } from "./check.js";

/** Activation layers: parameter-free wrappers of the elementwise ops, whose vjps they reuse. */
type Activation = Layer<NoState, NoState>;

function axisOption(where: string, axis: unknown): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw argumentError(where, `axis must be an integer, got ${show(axis)}`);
  }
  return axis;
}

/** max(x, 0). Gradient: dy where x > 0, else 0. */
export function relu(): Activation {
  return statelessLayer("relu", (x) => reluOp(x));
}

/** x where x > 0, else alpha·x (alpha defaults to 0.01). Gradient: dy·(1 or alpha). */
export function leakyRelu(alpha = 0.01): Activation {
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw argumentError("leakyRelu", `alpha must be a finite number, got ${show(alpha)}`);
  }
  return statelessLayer("leakyRelu", (x) => leakyReluOp(x, alpha));
}

/** 1/(1 + e^−x). Gradient: dy·y·(1 − y). */
export function sigmoid(): Activation {
  return statelessLayer("sigmoid", (x) => sigmoidOp(x));
}

/** tanh x. Gradient: dy·(1 − y²). */
export function tanh(): Activation {
  return statelessLayer("tanh", (x) => tanhOp(x));
}

/**
 * GELU, x·Φ(x) with Φ the standard normal CDF (PyTorch's nn.GELU): exact by default (erf), or
 * the tanh approximation with `approximate: "tanh"`. The gelu op's layer; its gradient is the op's.
 */
export function gelu(options: GeluAttrs = {}): Activation {
  if (options === null || typeof options !== "object") {
    throw argumentError(
      "gelu",
      `options must be an object such as { approximate: "tanh" }, got ${show(options)}`,
    );
  }
  const approximate = options.approximate ?? "none";
  if (approximate !== "none" && approximate !== "tanh") {
    throw argumentError("gelu", `approximate must be "none" or "tanh", got ${show(approximate)}`);
  }
  return statelessLayer("gelu", (x) => geluOp(x, { approximate }));
}

/** exp(x)/Σ exp(x) along `axis` (default −1, the class axis of [N, K] logits). */
export function softmax(axis = -1): Activation {
  const a = axisOption("softmax", axis);
  return statelessLayer("softmax", (x) => softmaxOp(x, a));
}

/** x − logΣexp(x) along `axis` (default −1), computed stably. */
export function logSoftmax(axis = -1): Activation {
  const a = axisOption("logSoftmax", axis);
  return statelessLayer("logSoftmax", (x) => logSoftmaxOp(x, a));
}
