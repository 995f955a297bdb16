import { TapegradError, type DType, type Tensor } from "@tapegrad/autodiff";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** The ONNX opset the exporter writes (ONNX 1.12), and the IR version that goes with it. */
export const OPSET = 17;
const IR_VERSION = 8;

/** ONNX's element types for tapegrad's dtypes. */
export const ELEMENT_TYPE: Readonly<Record<DType, number>> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
};
const INT64 = onnx.TensorProto.DataType.INT64;
/** ONNX's int64 element type, for Cast to the integer inputs some ops take. */
export const INT64_TYPE = INT64;
/** ONNX's boolean element type, what comparisons produce. */
export const BOOL = onnx.TensorProto.DataType.BOOL;

/** A node attribute: an integer, a float, a list of integers or a string. */
export type AttrValue = number | readonly number[] | string | { readonly float: number };

/** The inputs, outputs and metadata of the model a graph becomes. */
export interface ModelSpec {
  /** The graph's name (the model's kind, for a layer). */
  readonly name: string;
  /** Graph inputs: the value registered with `name(…, "input")`, and its dims. */
  readonly inputs: readonly { readonly value: string; readonly dims: Dims }[];
  /** Graph outputs: name, the value that holds it, its dtype and dims. */
  readonly outputs: readonly {
    readonly name: string;
    readonly value: string;
    readonly dtype: DType;
    readonly dims: Dims;
  }[];
}

/** A dimension: a size, or a symbolic name such as "batch". */
export type Dims = readonly (number | string)[];

/**
 * An ONNX graph under construction: values named by the tensors that hold them, nodes in
 * topological order (the trace's order), initializers for weights and constants.
 */
export class OnnxGraph {
  private readonly values = new Map<Tensor, string>();
  private readonly dtypes = new Map<string, DType>();
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly used = new Set<string>();
  private readonly shapes: { proto: { rawData: Uint8Array }; values: readonly number[] }[] = [];
  /** Prefix of the nodes being added: the path of the layer that applied the op. */
  scope = "";

  /** Registers a graph input or a named weight (an initializer) for tensor `t`. */
  name(t: Tensor, name: string, as: "input" | "initializer"): void {
    const unique = this.fresh(name);
    this.values.set(t, unique);
    this.dtypes.set(unique, t.dtype);
    if (as === "initializer") this.initializers.push(tensorProto(unique, t));
  }

  /** The value holding `t`: its name, or a new initializer with its data (a constant). */
  valueOf(t: Tensor): string {
    const known = this.values.get(t);
    if (known !== undefined) return known;
    const name = this.fresh(`${this.scope === "" ? "" : `${this.scope}/`}constant`);
    this.values.set(t, name);
    this.dtypes.set(name, t.dtype);
    this.initializers.push(tensorProto(name, t));
    return name;
  }

  /** Whether `t` already has a value in the graph (an input, weight or node output). */
  has(t: Tensor): boolean {
    return this.values.has(t);
  }

  /** Binds an op's output tensor to the value that computes it. */
  bind(t: Tensor, value: string): void {
    this.values.set(t, value);
    this.dtypes.set(value, t.dtype);
  }

  /** The dtype of a value made from a tensor, or undefined for values nodes made (bool). */
  dtypeOf(value: string): DType | undefined {
    return this.dtypes.get(value);
  }

  /** A 1-D int64 initializer: axes, pads and starts as ONNX takes them as inputs. */
  ints(values: readonly number[]): string {
    return this.int64s(values, "ints").name;
  }

  /**
   * A Reshape's target shape. Unlike other constants it may follow the batch: see followBatch.
   */
  shape(values: readonly number[]): string {
    const proto = this.int64s(values, "shape");
    this.shapes.push({ proto, values });
    return proto.name;
  }

  /**
   * Writes as −1 ("whatever the size gives") the one dim of each Reshape target that differs
   * from `other`'s, the same model traced at another batch size: that dim follows the batch.
   * A target with more differing dims is left as it is, for the caller's comparison to catch.
   */
  followBatch(other: OnnxGraph): void {
    this.shapes.forEach(({ proto, values }, i) => {
      const theirs = other.shapes[i]?.values;
      if (theirs === undefined || theirs.length !== values.length) return;
      const differing = values.flatMap((d, k) => (d === theirs[k] ? [] : [k]));
      if (differing.length !== 1) return;
      proto.rawData = int64Bytes(values.map((d, k) => (k === differing[0] ? -1 : d)));
    });
  }

  private int64s(values: readonly number[], what: string): { name: string; rawData: Uint8Array } {
    const name = this.fresh(`${this.scope === "" ? "" : `${this.scope}/`}${what}`);
    const proto = onnx.TensorProto.create({
      name,
      dims: [values.length],
      dataType: INT64,
      rawData: int64Bytes(values),
    });
    this.initializers.push(proto);
    return proto as { name: string; rawData: Uint8Array };
  }

  /** Adds a node; returns its `outputs` value names (one unless more are asked for). */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, AttrValue>> = {},
    outputs = 1,
  ): string[] {
    const name = this.fresh(this.scope === "" ? opType : `${this.scope}/${opType}`);
    const names = Array.from({ length: outputs }, (_, k) =>
      this.fresh(outputs === 1 ? `${name}:out` : `${name}:out${k}`),
    );
    this.nodes.push(
      onnx.NodeProto.create({
        name,
        opType,
        input: [...inputs],
        output: names,
        attribute: Object.entries(attrs).map(([key, value]) => attributeProto(key, value)),
      }),
    );
    return names;
  }

  /** The serialised ModelProto. */
  encode(spec: ModelSpec): Uint8Array {
    const valueInfo = (name: string, dtype: DType, dims: Dims) =>
      onnx.ValueInfoProto.create({
        name,
        type: {
          tensorType: {
            elemType: ELEMENT_TYPE[dtype],
            shape: {
              dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
            },
          },
        },
      });
    // Graph inputs and outputs are named by the caller; values inside keep their own names, so
    // an output that is an input or a weight gets an Identity node.
    const nodes = [...this.nodes];
    for (const output of spec.outputs) {
      nodes.push(
        onnx.NodeProto.create({
          name: this.fresh(`output/${output.name}`),
          opType: "Identity",
          input: [output.value],
          output: [output.name],
        }),
      );
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "tapegrad",
      graph: {
        name: spec.name,
        node: nodes,
        initializer: this.initializers,
        input: spec.inputs.map((input) =>
          valueInfo(input.value, this.dtypes.get(input.value)!, input.dims),
        ),
        output: spec.outputs.map((o) => valueInfo(o.name, o.dtype, o.dims)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** `base`, or `base_2`, `base_3`, … if taken: ONNX value and node names must be unique. */
  private fresh(base: string): string {
    let name = base;
    for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

/** A tensor as an ONNX initializer, its data little-endian as ONNX's raw_data requires. */
function tensorProto(name: string, t: Tensor): object {
  const data = t.data;
  if (!littleEndian) {
    throw new TapegradError("INVALID_STATE", "exportOnnx: big-endian hosts are not supported");
  }
  return onnx.TensorProto.create({
    name,
    dims: [...t.shape],
    dataType: ELEMENT_TYPE[t.dtype],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function int64Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function attributeProto(name: string, value: AttrValue): object {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === "number") return { name, type: AttributeType.INT, i: value };
  if (typeof value === "string") {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}
