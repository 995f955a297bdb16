import {
  TapegradError,
  Tensor,
  recordOps,
  treeFlatten,
  zeros,
  type FloatDType,
  type RecordedOp,
} from "@tapegrad/autodiff";
import { isLayer, RECORDER, type RecordingContext } from "../combinators/child.js";
import type { Layer } from "../layer.js";
import { argumentError, booleanOption, floatDType, optionsObject, show } from "../layers/check.js";
import { CONVERTERS } from "./converters.js";
import { OnnxGraph, type Dims } from "./graph.js";

/** Options of `exportOnnx` and `exportOnnxFunction`. */
export interface ExportOnnxOptions {
  /** The input's shape, batch axis first: `[1, 1, 28, 28]` for the Fashion-MNIST models. */
  readonly inputShape: readonly number[];
  /** The input's dtype (default "float32"). */
  readonly dtype?: FloatDType;
  /**
   * Give the batch axis (axis 0 of the input and the output) the symbolic size "batch", so
   * the model runs on any batch size (default true). The model is traced at two batch sizes
   * to find which shapes follow the batch; one that cannot be expressed that way is an error.
   */
  readonly dynamicBatch?: boolean;
  /** The graph input's name (default "input"). */
  readonly inputName?: string;
  /** The graph output's name (default "output"). */
  readonly outputName?: string;
}

/**
 * A layer as an ONNX model (opset 17), in eval mode: batch norm with its running statistics,
 * dropout the identity. Params and state become named initializers (`conv1.weight`,
 * `stem.bn.runningMean`, …) and each op of one traced call becomes ONNX nodes named after the
 * layer that applied it. Returns the serialised ModelProto, ready for a `.onnx` file or
 * `InferenceSession.create`. A layer that applies an op with no ONNX form raises an error
 * naming the layer and the op.
 */
export function exportOnnx(
  layer: Layer,
  params: unknown,
  state: unknown,
  options: ExportOnnxOptions,
): Uint8Array {
  if (!isLayer(layer)) throw argumentError(WHERE, `expected a layer, got ${show(layer)}`);
  const weights = namedWeights(params, state);
  return exportTraced(layer.kind, weights, options, (x, scopes) => {
    const path: { key: string; kind: string }[] = [{ key: "", kind: layer.kind }];
    const ctx: RecordingContext & { state: unknown } = {
      training: false,
      state,
      [RECORDER]: {
        enter: (key, child) => path.push({ key, kind: child.kind }),
        exit: () => path.pop(),
      },
    };
    return recordOps(() => layer.apply(params, x, ctx), {
      onOp: (op) => {
        const names = path.slice(1).map((p) => p.key);
        scopes.set(op, { path: names.join("."), kind: path[path.length - 1]!.kind });
      },
    });
  });
}

/**
 * A functional model `f(params, x)` as an ONNX model, as `exportOnnx` does for layers: the
 * params' leaves become initializers named by their paths, and f is traced on one input.
 */
export function exportOnnxFunction<P>(
  f: (params: P, x: Tensor) => Tensor,
  params: P,
  options: ExportOnnxOptions,
): Uint8Array {
  if (typeof f !== "function") throw argumentError(WHERE, `expected a function, got ${show(f)}`);
  const weights = namedWeights(params, {});
  return exportTraced("model", weights, options, (x) => recordOps(() => f(params, x)));
}

const WHERE = "exportOnnx";

/** Where an op was applied: the layer's path from the model ("" for the model) and kind. */
interface Scope {
  readonly path: string;
  readonly kind: string;
}

type Trace = (
  x: Tensor,
  scopes: Map<RecordedOp, Scope>,
) => { readonly result: unknown; readonly ops: readonly RecordedOp[] };

/** Params' and state's leaves by path: the names their initializers get. */
function namedWeights(params: unknown, state: unknown): [string, Tensor][] {
  const weights: [string, Tensor][] = [];
  const seen = new Set<string>();
  for (const [path, leaf] of [...treeFlatten(params), ...treeFlatten(state)]) {
    if (!(leaf instanceof Tensor)) continue;
    if (seen.has(path)) {
      throw argumentError(WHERE, `params and state both have a tensor at ${path}; rename one`);
    }
    seen.add(path);
    weights.push([path, leaf]);
  }
  return weights;
}

function exportTraced(
  modelName: string,
  weights: readonly [string, Tensor][],
  options: ExportOnnxOptions,
  trace: Trace,
): Uint8Array {
  optionsObject(WHERE, options);
  const inputShape = checkedShape(options.inputShape);
  const dtype = floatDType(WHERE, options.dtype ?? "float32");
  const dynamic = booleanOption(WHERE, "dynamicBatch", options.dynamicBatch ?? true);
  const inputName = nameOption("inputName", options.inputName ?? "input");
  const outputName = nameOption("outputName", options.outputName ?? "output");
  if (inputName === outputName) {
    throw argumentError(WHERE, `inputName and outputName must differ, both are "${inputName}"`);
  }
  const build = (batch: number) =>
    buildGraph(modelName, weights, trace, [batch, ...inputShape.slice(1)], dtype, {
      inputName,
      outputName,
    });
  if (!dynamic) return build(inputShape[0]!).encode(null);
  // Two traces whose batch sizes differ: shapes that differ between them follow the batch.
  const batch = inputShape[0]!;
  const other = batch === 1 ? 2 : batch - 1;
  const first = build(batch);
  const second = build(other);
  const model = first.encode(second);
  if (!bytesEqual(model, second.encode(first))) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `${WHERE}: the model computes with the batch size in a way a dynamic batch axis cannot ` +
        `express (a constant or an attr that depends on it); export with dynamicBatch: false`,
    );
  }
  return model;
}

/** One traced call as an ONNX graph, ready to encode. */
function buildGraph(
  modelName: string,
  weights: readonly [string, Tensor][],
  trace: Trace,
  shape: readonly number[],
  dtype: FloatDType,
  names: { readonly inputName: string; readonly outputName: string },
): TracedGraph {
  const x = zeros(shape, dtype);
  const scopes = new Map<RecordedOp, Scope>();
  const { result, ops } = trace(x, scopes);
  if (!(result instanceof Tensor)) {
    throw argumentError(WHERE, `the model must return a tensor, got ${show(result)}`);
  }
  const g = new OnnxGraph();
  g.name(x, names.inputName, "input");
  for (const [path, t] of weights) {
    if (!g.has(t)) g.name(t, path, "initializer");
  }
  for (const op of ops) emit(g, op, scopes);
  return new TracedGraph(g, modelName, names, x, result);
}

/** Writes `op` with its converter, or its inner ops where it has none. */
function emit(g: OnnxGraph, op: RecordedOp, scopes: ReadonlyMap<RecordedOp, Scope>): void {
  const scope = scopes.get(op) ?? { path: "", kind: "model" };
  g.scope = scope.path;
  const convert = CONVERTERS[op.op];
  if (convert !== undefined) {
    const values = convert(
      g,
      op.inputs.map((t) => g.valueOf(t)),
      op,
    );
    op.outputs.forEach((t, k) => g.bind(t, values[k]!));
    return;
  }
  if (op.inner.length > 0 && op.outputs.every((t) => op.inner.some((o) => o.outputs.includes(t)))) {
    for (const inner of op.inner) emit(g, inner, scopes);
    return;
  }
  const where =
    scope.path === "" ? `the model (${scope.kind})` : `layer ${scope.path} (${scope.kind})`;
  throw new TapegradError(
    "INVALID_ARGUMENT",
    `${WHERE}: ${where} applies op "${op.op}", which has no ONNX form; ops that export: ` +
      Object.keys(CONVERTERS).sort().join(", "),
  );
}

/** A graph with its input and output, encoded with a batch axis fixed or symbolic. */
class TracedGraph {
  constructor(
    private readonly graph: OnnxGraph,
    private readonly modelName: string,
    private readonly names: { readonly inputName: string; readonly outputName: string },
    private readonly input: Tensor,
    private readonly output: Tensor,
  ) {}

  /**
   * The ModelProto. With `other` (the same model traced at another batch size), every shape
   * constant, input and output dim that differs between the two is written as the batch.
   */
  encode(other: TracedGraph | null): Uint8Array {
    const dims = (mine: readonly number[], theirs: readonly number[] | undefined): Dims =>
      mine.map((d, i) => (theirs !== undefined && theirs[i] !== d ? "batch" : d));
    if (other !== null) this.graph.followBatch(other.graph);
    return this.graph.encode({
      name: this.modelName,
      inputs: [
        {
          value: this.names.inputName,
          dims: dims(this.input.shape, other?.input.shape),
        },
      ],
      outputs: [
        {
          name: this.names.outputName,
          value: this.graph.valueOf(this.output),
          dtype: this.output.dtype,
          dims: dims(this.output.shape, other?.output.shape),
        },
      ],
    });
  }
}

function checkedShape(shape: unknown): number[] {
  const ok =
    Array.isArray(shape) &&
    shape.length > 0 &&
    shape.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1);
  if (!ok) {
    throw argumentError(
      WHERE,
      `inputShape must be a non-empty array of positive integers, batch axis first, got ${show(shape)}`,
    );
  }
  return [...(shape as number[])];
}

function nameOption(name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw argumentError(WHERE, `${name} must be a non-empty string, got ${show(value)}`);
  }
  return value;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
