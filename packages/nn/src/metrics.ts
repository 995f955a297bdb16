import { TapegradError, Tensor, argmax, showShape, tensor } from "@tapegrad/autodiff";
import { show } from "./layers/check.js";
import { checkLabels } from "./losses.js";

/**
 * The fraction of examples whose predicted class equals the label: predictions are
 * argmax(logits [N, C]) along the classes (first maximum on ties), or given directly as int32 [N].
 */
export function accuracy(logitsOrPredictions: Tensor, labels: Tensor): number {
  const predicted = predictions("accuracy", logitsOrPredictions, labels);
  if (predicted.length === 0) {
    throw new TapegradError(
      "SHAPE_MISMATCH",
      "accuracy: there are no examples (N = 0); the accuracy of none is undefined",
    );
  }
  const truth = labels.data;
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === truth[i]) correct++;
  return correct / predicted.length;
}

/**
 * Counts as an int32 [C, C] tensor: entry [i, j] is the number of examples of true class i
 * predicted as class j (rows = truth, columns = prediction, as scikit-learn). Takes logits
 * [N, C] (argmax along the classes) or int32 predictions [N].
 */
export function confusionMatrix(
  logitsOrPredictions: Tensor,
  labels: Tensor,
  numClasses: number,
): Tensor {
  const fn = "confusionMatrix";
  if (typeof numClasses !== "number" || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `${fn}: numClasses must be a positive integer, got ${show(numClasses)}`,
    );
  }
  if (logitsOrPredictions instanceof Tensor && logitsOrPredictions.ndim === 2) {
    const c = logitsOrPredictions.shape[1];
    if (c !== numClasses) {
      throw new TapegradError(
        "SHAPE_MISMATCH",
        `${fn}: logits have ${c} classes (shape ${showShape(logitsOrPredictions.shape)}), ` +
          `expected numClasses = ${numClasses}`,
      );
    }
  }
  const predicted = predictions(fn, logitsOrPredictions, labels, numClasses);
  const truth = labels.data;
  const counts = new Int32Array(numClasses * numClasses);
  for (let i = 0; i < predicted.length; i++) counts[truth[i]! * numClasses + predicted[i]!]! += 1;
  return tensor(counts, { shape: [numClasses, numClasses], copy: false });
}

/**
 * A confusion matrix as a text table, one row per true class and one column per predicted
 * class, labelled with `classNames` (default 0…C−1); counts are right-aligned.
 */
export function formatConfusionMatrix(matrix: Tensor, classNames?: readonly string[]): string {
  const fn = "formatConfusionMatrix";
  if (!(matrix instanceof Tensor) || matrix.ndim !== 2 || matrix.shape[0] !== matrix.shape[1]) {
    const got = matrix instanceof Tensor ? `shape ${showShape(matrix.shape)}` : typeof matrix;
    throw new TapegradError("SHAPE_MISMATCH", `${fn}: matrix must be square [C, C], got ${got}`);
  }
  const c = matrix.shape[0]!;
  const names = classNames ?? Array.from({ length: c }, (_, i) => String(i));
  if (!Array.isArray(names) || names.length !== c) {
    const got = Array.isArray(names) ? `${names.length} names` : typeof names;
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `${fn}: classNames must hold one name per class (${c}), got ${got}`,
    );
  }
  const corner = "true \\ predicted";
  const cells = Array.from(matrix.data, (v) => String(v));
  const rowHead = Math.max(corner.length, ...names.map((n) => n.length));
  const widths = names.map((name, j) =>
    Math.max(name.length, ...names.map((_, i) => cells[i * c + j]!.length)),
  );
  const line = (head: string, values: readonly string[]) =>
    [head.padEnd(rowHead), ...values.map((v, j) => v.padStart(widths[j]!))].join("  ").trimEnd();
  const rows = names.map((name, i) => line(name, cells.slice(i * c, (i + 1) * c)));
  return [line(corner, names), ...rows].join("\n");
}

/** The predicted class of each example, checked against labels (and numClasses when known). */
function predictions(
  fn: string,
  x: Tensor,
  labels: Tensor,
  numClasses?: number,
): ArrayLike<number> {
  if (!(x instanceof Tensor)) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `${fn}: expected logits [N, C] or int32 predictions [N] as a Tensor, got ${typeof x}`,
    );
  }
  if (x.ndim === 2) {
    const [n, c] = x.shape as [number, number];
    if (c === 0) {
      throw new TapegradError("SHAPE_MISMATCH", `${fn}: logits of shape [${n},0] have no classes`);
    }
    checkLabels(fn, labels, n, numClasses ?? c, `logits have shape [${n},${c}]`);
    return argmax(x, { axis: 1 }).data;
  }
  if (x.ndim !== 1 || x.dtype !== "int32") {
    throw new TapegradError(
      x.ndim === 1 ? "DTYPE_MISMATCH" : "SHAPE_MISMATCH",
      `${fn}: expected logits [N, C] or int32 predictions [N], got a ${x.dtype} tensor of ` +
        `shape ${showShape(x.shape)}`,
    );
  }
  const n = x.shape[0]!;
  checkLabels(fn, labels, n, numClasses, `predictions have shape [${n}]`);
  const data = x.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (numClasses === undefined && v < 0) {
      throw new TapegradError(
        "INVALID_ARGUMENT",
        `${fn}: predictions[${i}] = ${v} is negative; expected a class index ≥ 0`,
      );
    }
    if (numClasses !== undefined && (v < 0 || v >= numClasses)) {
      throw new TapegradError(
        "INVALID_ARGUMENT",
        `${fn}: predictions[${i}] = ${v} is out of range for ${numClasses} classes; ` +
          `expected 0 ≤ prediction < ${numClasses}`,
      );
    }
  }
  return data;
}
