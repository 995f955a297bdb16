import { dtypeError, shapeError, argumentError, show, showShape } from "./errors.js";
import { add } from "./ops/binary.js";
import { argmax } from "./ops/reduce.js";
import { log, neg } from "./ops/unary.js";
import { assertTensor, optionsArgument } from "./ops/util.js";
import { randomUniform } from "./randomKeys.js";
import { assertValidShape, normalizeAxis } from "./shape.js";
import type { Tensor } from "./tensor.js";

/** Options of `categorical`. */
export interface CategoricalOptions {
  /** The axis of logits that holds the classes (default −1, the last). */
  readonly axis?: number;
  /**
   * The result's shape (default: logits' shape without the classes axis). Logits' other axes
   * broadcast against its trailing axes; leading ones draw more samples from the same logits.
   */
  readonly shape?: readonly number[];
}

/**
 * Requires a key or a batch of keys (int32 [..., 2]), as the draws of randomKeys.ts do, so that a
 * wrong key is reported by categorical rather than by the uniform draw inside it.
 */
function checkKey(key: Tensor): void {
  if (key.dtype !== "int32") {
    throw dtypeError(
      "categorical",
      `key must be an int32 key from randomKey or splitKey, got ${key.dtype}`,
    );
  }
  if (key.ndim === 0 || key.shape[key.ndim - 1] !== 2) {
    throw shapeError(
      "categorical",
      `key must have shape [2], or [..., 2] for a batch of keys, got ${showShape(key.shape)}`,
    );
  }
}

/** The result shape: `shape` if given, once checked to take logits' other axes `batch`. */
function resultShape(shape: unknown, batch: readonly number[], logits: Tensor, axis: number) {
  if (shape === undefined) return batch;
  assertValidShape("categorical", shape as readonly number[]);
  const result = shape as readonly number[];
  const lead = result.length - batch.length;
  if (lead < 0 || batch.some((d, i) => d !== 1 && d !== result[lead + i])) {
    throw shapeError(
      "categorical",
      `shape ${showShape(result)} does not take logits of shape ${showShape(logits.shape)}: ` +
        `their axes but the classes axis ${axis}, ${showShape(batch)}, must broadcast to ` +
        `its trailing axes`,
    );
  }
  return result;
}

/**
 * int32 class indices drawn from softmax(logits) along `axis` (default −1), by the Gumbel-max
 * trick: the argmax of logits + g, with g = −log(−log u) for uniforms u drawn from `key`. The same
 * key gives the same draws; a batch of keys [...K, 2] gives [...K, ...shape], one stream per key;
 * −Infinity logits are never drawn. Not differentiable.
 */
export function categorical(key: Tensor, logits: Tensor, options?: CategoricalOptions): Tensor {
  assertTensor("categorical", "key", key);
  assertTensor("categorical", "logits", logits);
  const { axis = -1, shape } = optionsArgument("categorical", options);
  checkKey(key);
  if (logits.ndim === 0) {
    throw shapeError("categorical", "logits is a scalar; it needs an axis of classes");
  }
  if (typeof axis !== "number") {
    throw argumentError("categorical", `axis must be an integer, got ${show(axis)}`);
  }
  const a = normalizeAxis("categorical", axis, logits.ndim);
  const classes = logits.shape[a]!;
  if (classes === 0) {
    throw shapeError(
      "categorical",
      `logits of shape ${showShape(logits.shape)} has no classes along axis ${a}`,
    );
  }
  const batch = logits.shape.filter((_, i) => i !== a);
  const result = resultShape(shape, batch, logits, a);
  // The noise has the result's shape with the classes axis put back where logits has it.
  const lead = result.length - batch.length;
  const noiseShape = [...result.slice(0, lead + a), classes, ...result.slice(lead + a)];
  // float64 uniforms: their smallest values set the largest noise, and float32's are coarse.
  const u = randomUniform(key, noiseShape, { dtype: "float64" });
  const gumbel = neg(log(neg(log(u))));
  return argmax(add(logits, gumbel), { axis: key.ndim - 1 + lead + a });
}
