import {
  add,
  leakyRelu as leakyReluOp,
  logSoftmax as logSoftmaxOp,
  mul,
  relu as reluOp,
  sigmoid as sigmoidOp,
  softmax as softmaxOp,
  tanh as tanhOp,
  type Tensor,
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

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU's tanh approximation: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluTanh(x: Tensor): Tensor {
  const cube = mul(mul(x, x), x);
  const inner = mul(add(x, mul(cube, 0.044715)), GELU_C);
  return mul(mul(x, 0.5), add(tanhOp(inner), 1));
}

/**
 * GELU with the tanh approximation (PyTorch's `approximate='tanh'`; within 1e-3 of the exact
 * x·Φ(x), which needs erf, not an op here). A composite of ops, so its gradient is theirs.
 */
export function gelu(): Activation {
  return statelessLayer("gelu", geluTanh);
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
