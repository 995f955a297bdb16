import { Tensor, prng, treeLeaves, zeros, type DType } from "@tapegrad/autodiff";
import { RECORDER, type Recorder, type RecordingContext } from "./combinators/child.js";
import type { Layer, Variables } from "./layer.js";
import { argumentError, show } from "./layers/check.js";

/** Options of summary and summarize. */
export interface SummaryOptions {
  /** The variables to report (default: `layer.init(prng(seed))`). */
  readonly variables?: Variables;
  /** Seed of the init when no variables are given (default 0). */
  readonly seed?: number;
  /**
   * dtype of the zeros the model is run on (default "float32"); "int32" for a model that starts
   * with an embedding, whose zeros are valid token ids.
   */
  readonly dtype?: DType;
}

/** One line of a summary: a layer as it was applied. */
export interface SummaryRow {
  /** Dotted path of the layer in the params tree ("" for the model itself): "block2.bn". */
  readonly path: string;
  /** Nesting depth: 0 for the model, 1 for its children, … */
  readonly depth: number;
  /** The layer's kind: "conv2d", "sequential", … */
  readonly kind: string;
  /** The shape the layer returned, batch axis included. */
  readonly outputShape: readonly number[];
  /** Trainable values in this layer's params (its sub-layers' included). */
  readonly params: number;
  /** Non-trainable values in its state (running statistics, …). */
  readonly state: number;
  /** Whether rows for sub-layers follow (combinators). */
  readonly hasChildren: boolean;
}

/** What summarize returns: the shapes, one row per applied layer, and the counts. */
export interface ModelSummary {
  /** The shape the model was run on. */
  readonly inputShape: readonly number[];
  /** The model's output shape. */
  readonly outputShape: readonly number[];
  /** One row per layer, in the order applied. */
  readonly rows: readonly SummaryRow[];
  /** Trainable params plus non-trainable state values, as Keras counts them. */
  readonly totalParams: number;
  /** Values in the params tree. */
  readonly trainableParams: number;
  /** Values in the state tree (running statistics, …). */
  readonly nonTrainableParams: number;
}

/** The number of tensor elements in a tree. */
function countValues(tree: unknown): number {
  let n = 0;
  for (const leaf of treeLeaves(tree)) if (leaf instanceof Tensor) n += leaf.size;
  return n;
}

/**
 * Runs `layer` in eval mode on zeros of `input` (a shape, batch axis included) or on `input`
 * itself (a tensor, e.g. real token ids), and records every sub-layer a combinator applies, in
 * the order applied: path, kind, output shape, counts.
 */
export function summarize(
  layer: Layer,
  input: readonly number[] | Tensor,
  options: SummaryOptions = {},
): ModelSummary {
  const x = summaryInput(input, options.dtype);
  const inputShape = x.shape;
  const variables = options.variables ?? layer.init(prng(options.seed ?? 0));

  type MutableRow = { -readonly [K in keyof SummaryRow]: SummaryRow[K] };
  const rows: MutableRow[] = [];
  const open: MutableRow[] = [];
  const push = (path: string, kind: string, params: unknown, state: unknown) => {
    const parent = open[open.length - 1];
    if (parent) parent.hasChildren = true;
    const row: MutableRow = {
      path,
      depth: open.length,
      kind,
      outputShape: [],
      params: countValues(params),
      state: countValues(state),
      hasChildren: false,
    };
    rows.push(row);
    open.push(row);
  };
  const recorder: Recorder = {
    enter: (key, child, params, state) => {
      const parent = open[open.length - 1]!;
      push(parent.path === "" ? key : `${parent.path}.${key}`, child.kind, params, state);
    },
    exit: (y) => {
      open.pop()!.outputShape = [...y.shape];
    },
  };

  push("", layer.kind, variables.params, variables.state);
  const ctx: RecordingContext = { training: false, [RECORDER]: recorder };
  const [y] = layer.applyWithState(variables.params, variables.state, x, ctx);
  recorder.exit(y);

  const trainableParams = countValues(variables.params);
  const nonTrainableParams = countValues(variables.state);
  return {
    inputShape: [...inputShape],
    outputShape: [...y.shape],
    rows,
    totalParams: trainableParams + nonTrainableParams,
    trainableParams,
    nonTrainableParams,
  };
}

/** The tensor a summary runs the model on: `input` itself, or zeros of that shape and dtype. */
function summaryInput(input: readonly number[] | Tensor, dtype: unknown): Tensor {
  const where = "summary";
  if (dtype !== undefined && dtype !== "float32" && dtype !== "float64" && dtype !== "int32") {
    throw argumentError(where, `dtype must be "float32", "float64" or "int32", got ${show(dtype)}`);
  }
  if (input instanceof Tensor) {
    if (dtype !== undefined && dtype !== input.dtype) {
      throw argumentError(
        where,
        `dtype ${dtype} differs from the input tensor's ${input.dtype}; give one or the other`,
      );
    }
    return input;
  }
  const validShape = Array.isArray(input) && input.every((d) => Number.isInteger(d) && d >= 0);
  if (!validShape) {
    throw argumentError(
      where,
      `inputShape must be an array of sizes or a Tensor, got ${show(input)}`,
    );
  }
  return zeros(input, dtype ?? "float32");
}

const grouped = (n: number) => n.toLocaleString("en-US");
const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * A table of the model like torchinfo's: each layer's path (indented by depth), kind, output
 * shape for `input` (a shape or a tensor, as `summarize`) and parameter count ("--" for
 * combinators, whose params are their children's, and for layers without any), then the totals.
 */
export function summary(
  layer: Layer,
  input: readonly number[] | Tensor,
  options: SummaryOptions = {},
): string {
  const s = summarize(layer, input, options);
  const header = ["Layer", "Kind", "Output shape", "Params"];
  const body = s.rows.map((row) => [
    `${"  ".repeat(row.depth)}${row.path === "" ? "(model)" : row.path}`,
    row.kind,
    shapeText(row.outputShape),
    row.hasChildren || row.params === 0 ? "--" : grouped(row.params),
  ]);
  const table = [header, ["(input)", "", shapeText(s.inputShape), ""], ...body];
  const widths = header.map((_, c) => Math.max(...table.map((cells) => cells[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const rule = "=".repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  return [
    rule,
    line(header),
    rule,
    ...table.slice(1).map(line),
    rule,
    `Total params: ${grouped(s.totalParams)}`,
    `Trainable params: ${grouped(s.trainableParams)}`,
    `Non-trainable params (state): ${grouped(s.nonTrainableParams)}`,
    rule,
  ].join("\n");
}
