import {
  Tensor,
  add,
  argumentError,
  isMapped,
  dtypeError,
  logSoftmax,
  mean,
  mul,
  neg,
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

/** Options of crossEntropy: the reduction and label smoothing. */
export interface CrossEntropyOptions extends ReductionOptions {
  /** ε in [0, 1]: the target becomes (1 − ε)·onehot + ε/C, as in PyTorch (default 0). */
  readonly labelSmoothing?: number;
}

/**
 * Softmax cross-entropy of logits [N, C] against int32 labels [N]: −Σ_c q_c·logSoftmax(x)_c with
 * q = (1 − ε)·onehot(label) + ε/C, computed through logSoftmax so any finite logits are safe.
 * Gradient with respect to the logits: (softmax(x) − q)/N for the mean.
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const { reduction = "mean", labelSmoothing = 0 } = lossOptions("crossEntropy", options);
  checkReduction("crossEntropy", reduction);
  if (
    typeof labelSmoothing !== "number" ||
    !(labelSmoothing >= 0 && labelSmoothing <= 1) // also rejects NaN
  ) {
    throw argumentError(
      "crossEntropy",
      `labelSmoothing must be a number in [0, 1], got ${show(labelSmoothing)}`,
    );
  }
  checkClassification("crossEntropy", "logits", logits, labels);
  const logProbs = logSoftmax(logits, 1);
  let losses = pickNegated(logProbs, labels);
  if (labelSmoothing > 0) {
    // −Σ_c q_c·log p_c = (1 − ε)·(−log p_label) + ε·(−mean_c log p_c).
    const uniform = neg(mean(logProbs, { axis: 1 }));
    losses = add(mul(losses, 1 - labelSmoothing), mul(uniform, labelSmoothing));
  }
  return reduce(losses, reduction);
}

/**
 * Negative log-likelihood of int32 labels [N] under log-probabilities [N, C]: −logProbs[i, label_i].
 * Gradient: −1 (÷N for the mean) at each label's entry, 0 elsewhere.
 */
export function nllLoss(logProbs: Tensor, labels: Tensor, options: ReductionOptions = {}): Tensor {
  const { reduction = "mean" } = lossOptions("nllLoss", options);
  checkReduction("nllLoss", reduction);
  checkClassification("nllLoss", "logProbs", logProbs, labels);
  return reduce(pickNegated(logProbs, labels), reduction);
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

/** −logProbs[i, labels[i]] per row, as [N]. `where`, not a product with the one-hot, so a −∞
 *  at another class (log 0) cannot turn into 0·∞ = NaN. */
function pickNegated(logProbs: Tensor, labels: Tensor): Tensor {
  const hit = oneHot(labels, logProbs.shape[1]!, "int32");
  return neg(sum(where(hit, logProbs, 0), { axis: 1 }));
}

function reduce(losses: Tensor, reduction: Reduction): Tensor {
  if (reduction === "mean") return mean(losses);
  if (reduction === "sum") return sum(losses);
  return losses;
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
 * @internal Checks scores [N, C] (float) and int32 labels [N] with every label in 0…C−1;
 * `name` is the scores argument's name in messages.
 */
export function checkClassification(fn: string, name: string, scores: Tensor, labels: Tensor) {
  checkFloat(fn, name, scores);
  if (scores.ndim !== 2) {
    throw shapeError(fn, `${name} must have shape [N, C], got ${showShape(scores.shape)}`);
  }
  const [n, c] = scores.shape as [number, number];
  if (c === 0) throw shapeError(fn, `${name} has shape ${showShape(scores.shape)}: no classes`);
  checkLabels(fn, labels, n, c, `${name} has shape ${showShape(scores.shape)}`);
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
  // Under vmap the labels have no values to read; the op that indexes with them checks the range.
  if (isMapped(labels)) return;
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
