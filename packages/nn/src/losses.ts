import {
  Tensor,
  add,
  argumentError,
  cast,
  div,
  isAbstract,
  dtypeError,
  logSoftmax,
  mean,
  mul,
  neg,
  notEqual,
  oneHot,
  shapeError,
  show,
  showShape,
  softplus,
  square,
  sub,
  sum,
  where,
  type TensorLike,
} from "@tapegrad/autodiff";

/** How per-example losses combine: their mean (default), their sum, or none (one per example). */
export type Reduction = "mean" | "sum" | "none";

/** The option every loss takes: how per-example losses combine. */
export interface ReductionOptions {
  /** "mean" (default), "sum" or "none". */
  readonly reduction?: Reduction;
}

/** Options of crossEntropy: the reduction, an ignored label and label smoothing. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** ε in [0, 1]: the target becomes (1 − ε)·onehot + ε/C, as in PyTorch (default 0). */
  readonly labelSmoothing?: number;
}

/** Options of nllLoss (and crossEntropy): the reduction and a label value to skip. */
export interface NllLossOptions extends ReductionOptions {
  /**
   * Positions whose label equals it add nothing, and "mean" divides by the number of the others,
   * as PyTorch's ignore_index (whose default is −100; here no label is ignored unless given).
   */
  readonly ignoreIndex?: number;
}

/**
 * Softmax cross-entropy of logits [..., C] (classes last, not PyTorch's class axis 1: move it
 * with `transpose` first) against int32 labels [...]: (1 − ε)·(−log p_label) + ε·mean_c(−log p_c),
 * PyTorch's label-smoothing formula, computed through logSoftmax so any finite logits are safe.
 * Gradient with respect to the logits: (softmax(x) − q)/n for the mean, q = (1 − ε)·onehot + ε/C.
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const fn = "crossEntropy";
  const { reduction = "mean", labelSmoothing = 0, ignoreIndex } = lossOptions(fn, options);
  checkReduction(fn, reduction);
  if (
    typeof labelSmoothing !== "number" ||
    !(labelSmoothing >= 0 && labelSmoothing <= 1) // also rejects NaN
  ) {
    throw argumentError(
      fn,
      `labelSmoothing must be a number in [0, 1], got ${show(labelSmoothing)}`,
    );
  }
  checkIgnoreIndex(fn, ignoreIndex);
  checkClassification(fn, "logits", logits, labels, ignoreIndex);
  const logProbs = logSoftmax(logits, -1);
  let losses = pickNegated(logProbs, labels, ignoreIndex);
  if (labelSmoothing > 0) {
    // −Σ_c q_c·log p_c = (1 − ε)·(−log p_label) + ε·(−mean_c log p_c).
    const uniform = neg(mean(logProbs, { axis: -1 }));
    losses = add(mul(losses, 1 - labelSmoothing), mul(uniform, labelSmoothing));
  }
  return reduceLabelled(losses, labels, reduction, ignoreIndex);
}

/**
 * Negative log-likelihood of int32 labels [...] under log-probabilities [..., C] (classes last):
 * −logProbs[..., label]. Gradient: −1 (÷n for the mean) at each label's entry, 0 elsewhere.
 */
export function nllLoss(logProbs: Tensor, labels: Tensor, options: NllLossOptions = {}): Tensor {
  const { reduction = "mean", ignoreIndex } = lossOptions("nllLoss", options);
  checkReduction("nllLoss", reduction);
  checkIgnoreIndex("nllLoss", ignoreIndex);
  checkClassification("nllLoss", "logProbs", logProbs, labels, ignoreIndex);
  const losses = pickNegated(logProbs, labels, ignoreIndex);
  return reduceLabelled(losses, labels, reduction, ignoreIndex);
}

/** Options of binaryCrossEntropyWithLogits: the reduction and a positive-class weight. */
export interface BinaryCrossEntropyOptions extends ReductionOptions {
  /** Weight p of the positive term, broadcast against logits (a number, or e.g. one per class). */
  readonly posWeight?: TensorLike;
}

/**
 * −[p·t·log σ(z) + (1 − t)·log(1 − σ(z))] elementwise, for logits z and targets t of one shape,
 * as torch's BCEWithLogitsLoss. With p = 1 it is max(z, 0) − z·t + log(1 + e^−|z|) =
 * softplus(z) − z·t, which never overflows. Gradient (p = 1): σ(z) − t.
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  options: BinaryCrossEntropyOptions = {},
): Tensor {
  const fn = "binaryCrossEntropyWithLogits";
  const { reduction = "mean", posWeight } = lossOptions(fn, options);
  checkReduction(fn, reduction);
  checkPair(fn, "logits", logits, "targets", targets);
  if (posWeight === undefined) {
    return reduce(sub(softplus(logits), mul(logits, targets)), reduction);
  }
  checkPosWeight(fn, posWeight, logits.shape);
  // −log σ(z) = softplus(−z) and −log(1 − σ(z)) = z + softplus(−z), so the loss is
  // (1 − t)·z + (1 + (p − 1)·t)·softplus(−z), PyTorch's stable form.
  const weight = add(mul(sub(posWeight, 1), targets), 1);
  const losses = add(mul(sub(1, targets), logits), mul(weight, softplus(neg(logits))));
  return reduce(losses, reduction);
}

/** Options of mse: the reduction, and halving (the ½ that cancels the square's 2). */
export interface MseOptions extends ReductionOptions {
  /** Halve the squared error: with the mean, J = 1/(2m)·Σ (f(x) − y)² (default false). */
  readonly half?: boolean;
}

/**
 * Squared error (pred − target)², elementwise over tensors of one shape, averaged over every
 * element by default. `half: true` gives J = 1/(2m)·Σ (f(x_i) − y_i)² (m = the number of
 * elements), the loss of docs/cnn-backward.md's two-neuron warm-up. Gradient: 2(pred − target)/m,
 * or (pred − target)/m with half.
 */
export function mse(pred: Tensor, target: Tensor, options: MseOptions = {}): Tensor {
  const { reduction = "mean", half = false } = lossOptions("mse", options);
  checkReduction("mse", reduction);
  checkPair("mse", "pred", pred, "target", target);
  const squared = square(sub(pred, target));
  return reduce(half ? mul(squared, 0.5) : squared, reduction);
}

/**
 * −logProbs[..., label] per position, shaped like the labels. `where`, not a product with the
 * one-hot, so a −∞ at another class (log 0) cannot turn into 0·∞ = NaN. An ignored label may lie
 * outside 0…C−1 (PyTorch's −100), so it reads class 0 instead; `reduceLabelled` drops that value.
 */
function pickNegated(logProbs: Tensor, labels: Tensor, ignoreIndex?: number): Tensor {
  const classes = logProbs.shape[logProbs.ndim - 1]!;
  const safe = ignoreIndex === undefined ? labels : where(notEqual(labels, ignoreIndex), labels, 0);
  const hit = oneHot(safe, classes, "int32");
  return neg(sum(where(hit, logProbs, 0), { axis: -1 }));
}

function reduce(losses: Tensor, reduction: Reduction): Tensor {
  if (reduction === "mean") return mean(losses);
  if (reduction === "sum") return sum(losses);
  return losses;
}

/**
 * Reduces per-position losses after zeroing those whose label is `ignoreIndex` (`where`, so they
 * get no gradient); the mean then divides by the number of labels not ignored (NaN when all are,
 * 0/0, as PyTorch).
 */
function reduceLabelled(
  losses: Tensor,
  labels: Tensor,
  reduction: Reduction,
  ignoreIndex: number | undefined,
): Tensor {
  if (ignoreIndex === undefined) return reduce(losses, reduction);
  const kept = notEqual(labels, ignoreIndex);
  const masked = where(kept, losses, 0);
  if (reduction !== "mean") return reduce(masked, reduction);
  return div(sum(masked), cast(sum(kept), losses.dtype));
}

function checkIgnoreIndex(fn: string, ignoreIndex: unknown): void {
  if (ignoreIndex !== undefined && !isInt32(ignoreIndex)) {
    throw argumentError(
      fn,
      `ignoreIndex must be an int32 integer such as -100, got ${show(ignoreIndex)}`,
    );
  }
}

function isInt32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && (value | 0) === value;
}

function checkReduction(fn: string, reduction: unknown): asserts reduction is Reduction {
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw argumentError(fn, `reduction must be "mean", "sum" or "none", got ${show(reduction)}`);
  }
}

/** A loss's options argument: it must be an object (absent means `{}`, by the default). */
function lossOptions<T extends object>(fn: string, options: T): T {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(
      fn,
      `options must be an object such as { reduction: "sum" }, got ${show(options)}`,
    );
  }
  return options;
}

/**
 * @internal Checks scores [..., C] (float, classes last) and int32 labels [...] with every label
 * in 0…C−1 or equal to `ignoreIndex`; `name` is the scores argument's name in messages.
 */
export function checkClassification(
  fn: string,
  name: string,
  scores: Tensor,
  labels: Tensor,
  ignoreIndex?: number,
): void {
  checkFloat(fn, name, scores);
  if (scores.ndim === 0) {
    throw shapeError(fn, `${name} must have shape [..., C] (classes last), got []`);
  }
  const c = scores.shape[scores.ndim - 1]!;
  if (c === 0) throw shapeError(fn, `${name} has shape ${showShape(scores.shape)}: no classes`);
  const lead = scores.shape.slice(0, -1);
  if (!(labels instanceof Tensor)) {
    throw argumentError(fn, `labels must be an int32 Tensor, got ${show(labels)}`);
  }
  if (labels.dtype !== "int32") {
    throw dtypeError(fn, `labels must be int32 class indices, got ${labels.dtype}`);
  }
  if (labels.ndim !== lead.length || labels.shape.some((d, i) => d !== lead[i])) {
    throw shapeError(
      fn,
      `labels must have shape ${showShape(lead)} (${name} has shape ${showShape(scores.shape)}), ` +
        `got ${showShape(labels.shape)}`,
    );
  }
  // Under vmap or jit the labels have no values to read; the op indexing with them checks them.
  if (isAbstract(labels)) return;
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if ((v < 0 || v >= c) && v !== ignoreIndex) {
      const allowed = ignoreIndex === undefined ? "" : ` or the ignoreIndex ${ignoreIndex}`;
      throw argumentError(
        fn,
        `labels${multiIndex(lead, i)} = ${v} is out of range for ${c} classes; ` +
          `expected 0 ≤ label < ${c}${allowed}`,
      );
    }
  }
}

/** `[1,0]`: flat element `flat` of `shape` as a multi-index (`` for a scalar). */
function multiIndex(shape: readonly number[], flat: number): string {
  if (shape.length === 0) return "";
  const index = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    index[k] = flat % shape[k]!;
    flat = Math.floor(flat / shape[k]!);
  }
  return `[${index.join(",")}]`;
}

/**
 * @internal Checks int32 labels [n] with every label in 0…numClasses−1 (≥ 0 when numClasses is
 * undefined); `context` says where n comes from.
 */
export function checkLabels(
  fn: string,
  labels: Tensor,
  n: number,
  numClasses: number | undefined,
  context: string,
): void {
  if (!(labels instanceof Tensor)) {
    throw argumentError(fn, `labels must be an int32 Tensor, got ${typeof labels}`);
  }
  if (labels.dtype !== "int32") {
    throw dtypeError(fn, `labels must be int32 class indices, got ${labels.dtype}`);
  }
  if (labels.ndim !== 1 || labels.shape[0] !== n) {
    throw shapeError(
      fn,
      `labels must have shape [${n}] (${context}), got ${showShape(labels.shape)}`,
    );
  }
  // Under vmap or jit the labels have no values to read; the op indexing with them checks them.
  if (isAbstract(labels)) return;
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (numClasses === undefined && v < 0) {
      throw argumentError(fn, `labels[${i}] = ${v} is negative; expected a class index ≥ 0`);
    }
    if (numClasses !== undefined && (v < 0 || v >= numClasses)) {
      throw argumentError(
        fn,
        `labels[${i}] = ${v} is out of range for ${numClasses} classes; ` +
          `expected 0 ≤ label < ${numClasses}`,
      );
    }
  }
}

function checkFloat(fn: string, name: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    throw argumentError(fn, `${name} must be a Tensor, got ${x === null ? "null" : typeof x}`);
  }
  if (x.dtype === "int32") {
    throw dtypeError(fn, `${name} must be float32 or float64, got int32`);
  }
}

/** Two float tensors of one shape: the loss compares them element by element. */
function checkPair(fn: string, aName: string, a: Tensor, bName: string, b: Tensor): void {
  checkFloat(fn, aName, a);
  checkFloat(fn, bName, b);
  if (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i])) {
    throw shapeError(
      fn,
      `${bName} has shape ${showShape(b.shape)}, expected ${showShape(a.shape)} ` +
        `(the shape of ${aName})`,
    );
  }
}

/** posWeight must broadcast to the logits' shape without enlarging it. */
function checkPosWeight(fn: string, posWeight: TensorLike, shape: readonly number[]): void {
  if (typeof posWeight === "number") {
    if (!Number.isFinite(posWeight)) {
      throw argumentError(fn, `posWeight must be finite, got ${posWeight}`);
    }
    return;
  }
  checkFloat(fn, "posWeight", posWeight);
  const lead = shape.length - posWeight.ndim;
  const fits = lead >= 0 && posWeight.shape.every((d, i) => d === 1 || d === shape[lead + i]);
  if (!fits) {
    throw shapeError(
      fn,
      `posWeight of shape ${showShape(posWeight.shape)} does not broadcast to the logits' ` +
        `shape ${showShape(shape)}`,
    );
  }
}
