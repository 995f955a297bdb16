import { Tensor, prng, treeLeaves, zeros, type FloatDType } from "@tapegrad/autodiff";
import { RECORDER, type Recorder, type RecordingContext } from "./combinators/child.js";
import type { Layer, Variables } from "./layer.js";
import { argumentError, floatDType, show } from "./layers/check.js";

/** Options of summary and summarize. */
export interface SummaryOptions {
  /** The variables to report (default: `layer.init(prng(seed))`). */
  readonly variables?: Variables;
  /** Seed of the init when no variables are given (default 0). */
  readonly seed?: number;
  /** dtype of the zeros the model is run on (default "float32"). */
  readonly dtype?: FloatDType;
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
 * Runs `layer` in eval mode on zeros of `inputShape` (batch axis included) and records every
 * sub-layer a combinator applies, in the order applied: path, kind, output shape, counts.
 */
export function summarize(
  layer: Layer,
  inputShape: readonly number[],
  options: SummaryOptions = {},
): ModelSummary {
  const where = "summary";
  const validShape =
    Array.isArray(inputShape) && inputShape.every((d) => Number.isInteger(d) && d >= 0);
  if (!validShape) {
    throw argumentError(where, `inputShape must be an array of sizes, got ${show(inputShape)}`);
  }
  const dtype = floatDType(where, options.dtype ?? "float32");
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
  const [y] = layer.applyWithState(
    variables.params,
    variables.state,
    zeros(inputShape, dtype),
    ctx,
  );
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

const grouped = (n: number) => n.toLocaleString("en-US");
const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * A table of the model like torchinfo's: each layer's path (indented by depth), kind, output
 * shape for an input of `inputShape` and parameter count ("--" for combinators, whose params are
 * their children's, and for layers without any), then the totals. See `summarize` for the data.
 */
export function summary(
  layer: Layer,
  inputShape: readonly number[],
  options: SummaryOptions = {},
): string {
  const s = summarize(layer, inputShape, options);
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
