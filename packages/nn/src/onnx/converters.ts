import {
  TapegradError,
  full,
  tensor,
  type DType,
  type RecordedOp,
  type Tensor,
} from "@tapegrad/autodiff";
import { BOOL, ELEMENT_TYPE, INT64_TYPE, type AttrValue, type OnnxGraph } from "./graph.js";

/**
 * Writes one recorded op as ONNX nodes. `inputs` are the values of the op's inputs; the result
 * is one value per output of the op, each holding exactly what the op computed (same dtype).
 */
export type Converter = (g: OnnxGraph, inputs: readonly string[], op: RecordedOp) => string[];

type Attrs = Record<string, unknown>;
const attrsOf = (op: RecordedOp) => (op.attrs ?? {}) as Attrs;
const outputOf = (op: RecordedOp): Tensor => op.outputs[0]!;

/** `value` as `dtype`: ops that mix float32 and float64 (promoting) cast first, as ONNX needs. */
function as(g: OnnxGraph, value: string, dtype: DType): string {
  return g.dtypeOf(value) === dtype
    ? value
    : g.node("Cast", [value], { to: ELEMENT_TYPE[dtype] })[0]!;
}

/** An elementwise op of the same name in ONNX, inputs cast to the output's dtype. */
function elementwise(
  opType: string,
  attrs?: (op: RecordedOp) => Record<string, AttrValue>,
): Converter {
  return (g, inputs, op) => {
    const dtype = outputOf(op).dtype;
    return g.node(
      opType,
      inputs.map((v) => as(g, v, dtype)),
      attrs?.(op),
    );
  };
}

/** A comparison: ONNX gives booleans, tapegrad the 0/1 values in the output's dtype. */
function comparison(opType: string, negate = false): Converter {
  return (g, [a, b], op) => {
    const dtype = promoted(op.inputs);
    let result = g.node(opType, [as(g, a!, dtype), as(g, b!, dtype)])[0]!;
    if (negate) result = g.node("Not", [result])[0]!;
    return g.node("Cast", [result], { to: ELEMENT_TYPE[outputOf(op).dtype] });
  };
}

/** The dtype compared inputs meet in: float64 if either is, else float32, else int32. */
function promoted(inputs: readonly Tensor[]): DType {
  const dtypes = inputs.map((t) => t.dtype);
  if (dtypes.includes("float64")) return "float64";
  return dtypes.includes("float32") ? "float32" : "int32";
}

/** The axes a reduction's `axis` attr names, resolved against rank (all when absent). */
function reducedAxes(axis: unknown, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : (axis as number[]);
  return list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** sum, max, min and logSumExp: ONNX's Reduce ops, then the output's exact shape. */
function reduction(opType: string): Converter {
  return (g, [x], op) => {
    const axes = reducedAxes(attrsOf(op).axis, op.inputs[0]!.ndim);
    if (axes.length === 0) return g.node("Identity", [x!]);
    // Opset 17: ReduceSum takes its axes as an input, the others as an attribute.
    const reduced =
      opType === "ReduceSum"
        ? g.node(opType, [x!, g.ints(axes)], { keepdims: 1 })[0]!
        : g.node(opType, [x!], { axes, keepdims: 1 })[0]!;
    return reshape(g, reduced, outputOf(op).shape);
  };
}

/** argmax and argmin: ONNX's, flattened first when no axis is given, as int32. */
function argReduction(opType: string): Converter {
  return (g, [x], op) => {
    const { axis } = attrsOf(op);
    const source = axis === undefined ? g.node("Reshape", [x!, g.ints([-1])])[0]! : x!;
    const found = g.node(opType, [source], {
      axis: (axis as number | undefined) ?? 0,
      keepdims: 1,
    });
    const shaped = reshape(g, found[0]!, outputOf(op).shape);
    return g.node("Cast", shaped, { to: ELEMENT_TYPE.int32 });
  };
}

/** Reshape to `shape`; a 0 in it means an empty axis, not ONNX's default "copy the input's". */
function reshape(g: OnnxGraph, x: string, shape: readonly number[]): string[] {
  return g.node("Reshape", [x, g.shape(shape)], shape.includes(0) ? { allowzero: 1 } : {});
}

/** A pair attr (a number meaning both axes) as [height, width]. */
function pair(value: unknown, fallback: readonly [number, number]): [number, number] {
  if (value === undefined) return [...fallback];
  if (typeof value === "number") return [value, value];
  const [h, w] = value as readonly number[];
  return [h!, w!];
}

/**
 * Runs `body` on x as NCHW: an op on [C, H, W] (which tapegrad accepts, ONNX does not) gets a
 * batch axis of 1 before and loses it after.
 */
function asBatched(g: OnnxGraph, x: string, op: RecordedOp, body: (x: string) => string): string[] {
  if (op.inputs[0]!.ndim === 4) return [body(x)];
  const batched = g.node("Unsqueeze", [x, g.ints([0])])[0]!;
  return g.node("Squeeze", [body(batched), g.ints([0])]);
}

/**
 * conv2d and fusedConv2d: Conv with tapegrad's resolved geometry, then Relu if fused. ONNX's
 * pads cannot be negative (tapegrad's crop): such padding becomes a Pad node before the Conv.
 */
const convolution: Converter = (g, [x, w, bias], op) => {
  const attrs = attrsOf(op) as {
    stride: [number, number];
    padding: [[number, number], [number, number]];
    dilation: [number, number];
    groups: number;
    activation?: string;
  };
  const weight = op.inputs[1]!;
  const [[top, bottom], [left, right]] = attrs.padding;
  const pads = [top, left, bottom, right];
  const crops = pads.some((p) => p < 0);
  return asBatched(g, x!, op, (input) => {
    const padded = crops
      ? g.node("Pad", [input, g.ints([0, 0, top, left, 0, 0, bottom, right])])[0]!
      : input;
    const conv = g.node("Conv", bias === undefined ? [padded, w!] : [padded, w!, bias], {
      kernel_shape: weight.shape.slice(2),
      strides: attrs.stride,
      pads: crops ? [0, 0, 0, 0] : pads,
      dilations: attrs.dilation,
      group: attrs.groups,
    })[0]!;
    return attrs.activation === "relu" ? g.node("Relu", [conv])[0]! : conv;
  });
};

/**
 * conv2dBackpropInput (convTranspose2d's op): ConvTranspose writing tapegrad's output rows
 * exactly. Per axis the full transposed output has s·(in − 1) + d·(k − 1) + 1 rows and row i of
 * the result is full row i + top. ONNX's pads crop the full output; rows before or after it
 * (a negative top, a crop in conv2d's terms, or more rows than it has) are zeros, added by a
 * Pad (ONNX Runtime bounds output_padding by the stride, so it is not used).
 */
const transposedConvolution: Converter = (g, [dy, w], op) => {
  const attrs = attrsOf(op) as {
    stride: [number, number];
    padding: [[number, number], [number, number]];
    dilation: [number, number];
    groups: number;
    inputShape: readonly number[];
  };
  const weight = op.inputs[1]!;
  const inSizes = op.inputs[0]!.shape.slice(-2);
  const outSizes = attrs.inputShape.slice(-2);
  const axes = [0, 1].map((a) => {
    const full =
      attrs.stride[a]! * (inSizes[a]! - 1) + attrs.dilation[a]! * (weight.shape[2 + a]! - 1) + 1;
    const top = attrs.padding[a]![0];
    const begin = Math.max(top, 0);
    const lead = Math.max(-top, 0);
    const rows = outSizes[a]! - lead;
    return {
      begin,
      end: Math.max(0, full - begin - rows),
      lead,
      trail: Math.max(0, rows + begin - full),
    };
  });
  return asBatched(g, dy!, op, (input) => {
    const transposed = g.node("ConvTranspose", [input, w!], {
      kernel_shape: weight.shape.slice(2),
      strides: attrs.stride,
      dilations: attrs.dilation,
      group: attrs.groups,
      pads: [axes[0]!.begin, axes[1]!.begin, axes[0]!.end, axes[1]!.end],
    })[0]!;
    if (axes.every((a) => a.lead === 0 && a.trail === 0)) return transposed;
    const [rows, columns] = axes as [(typeof axes)[0], (typeof axes)[0]];
    const zeros = g.ints([0, 0, rows.lead, columns.lead, 0, 0, rows.trail, columns.trail]);
    return g.node("Pad", [transposed, zeros])[0]!;
  });
};

/** The window attributes ONNX's pooling ops share, from tapegrad's pooling attrs. */
function windowAttrs(attrs: Attrs): Record<string, AttrValue> {
  const kernel = pair(attrs.kernelSize, [1, 1]);
  const [ph, pw] = pair(attrs.padding, [0, 0]);
  return {
    kernel_shape: kernel,
    strides: pair(attrs.stride, kernel),
    pads: [ph, pw, ph, pw],
    ceil_mode: attrs.ceilMode === true ? 1 : 0,
  };
}

/**
 * MaxPool or AveragePool. With ceilMode the spec's shape rule keeps a last window that starts in
 * the padding, where tapegrad and PyTorch (and ONNX Runtime) drop it: a Slice to tapegrad's
 * output size makes every runtime agree.
 */
function pooling(opType: string, extra: (attrs: Attrs) => Record<string, AttrValue>): Converter {
  return (g, [x], op) =>
    asBatched(g, x!, op, (input) => {
      const attrs = attrsOf(op);
      const pooled = g.node(opType, [input], { ...windowAttrs(attrs), ...extra(attrs) })[0]!;
      if (attrs.ceilMode !== true) return pooled;
      const [h, w] = outputOf(op).shape.slice(-2);
      return g.node("Slice", [pooled, g.ints([0, 0]), g.ints([h!, w!]), g.ints([2, 3])])[0]!;
    });
}

/** matmul with transA/transB: the last two axes of a transposed operand swapped first. */
const matmul: Converter = (g, [a, b], op) => {
  const { transA, transB } = attrsOf(op);
  const swapLast = (value: string, rank: number) => {
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
    return g.node("Transpose", [value], { perm })[0]!;
  };
  const [ra, rb] = [op.inputs[0]!.ndim, op.inputs[1]!.ndim];
  const left = transA === true && ra >= 2 ? swapLast(a!, ra) : a!;
  const right = transB === true && rb >= 2 ? swapLast(b!, rb) : b!;
  return g.node("MatMul", [left, right]);
};

/**
 * slice: ONNX Slice over the axes it cuts (an axis kept whole is left out, so a batch axis
 * stays free), starts from tapegrad's begin (negatives from the end), ends from the output.
 */
const slice: Converter = (g, [x], op) => {
  const { begin } = attrsOf(op) as { begin: readonly number[] };
  const shape = op.inputs[0]!.shape;
  const sizes = outputOf(op).shape;
  const starts = shape.map((d, i) => {
    const b = begin[i] ?? 0;
    return b < 0 ? b + d : b;
  });
  const axes = shape.flatMap((d, i) => (starts[i] === 0 && sizes[i] === d ? [] : [i]));
  if (axes.length === 0) return g.node("Identity", [x!]);
  return g.node("Slice", [
    x!,
    g.ints(axes.map((i) => starts[i]!)),
    g.ints(axes.map((i) => starts[i]! + sizes[i]!)),
    g.ints(axes),
  ]);
};

/** pad: ONNX Pad in constant mode, all befores then all afters. */
const pad: Converter = (g, [x], op) => {
  const { paddings, value = 0 } = attrsOf(op) as {
    paddings: readonly (readonly [number, number])[];
    value?: number;
  };
  const rank = op.inputs[0]!.ndim;
  const pairs = Array.from({ length: rank }, (_, i) => paddings[i] ?? [0, 0]);
  const fill = scalar(g, value, op.inputs[0]!.dtype);
  return g.node("Pad", [x!, g.ints([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]), fill], {
    mode: "constant",
  });
};

/** A 0-d constant of `dtype`: the numbers elementwise formulas need. */
function scalar(g: OnnxGraph, value: number, dtype: DType): string {
  return g.valueOf(full([], value, dtype));
}

/** gelu: exact ½x(1 + erf(x/√2)), or the tanh form, written with ONNX's elementwise ops. */
const gelu: Converter = (g, [x], op) => {
  const dtype = outputOf(op).dtype;
  const c = (v: number) => scalar(g, v, dtype);
  const mul = (a: string, b: string) => g.node("Mul", [a, b])[0]!;
  const add = (a: string, b: string) => g.node("Add", [a, b])[0]!;
  const half = mul(x!, c(0.5));
  if ((attrsOf(op).approximate ?? "none") === "none") {
    const erf = g.node("Erf", [mul(x!, c(Math.SQRT1_2))])[0]!;
    return [mul(half, add(erf, c(1)))];
  }
  const cube = mul(mul(x!, x!), x!);
  const inner = mul(add(x!, mul(cube, c(0.044715))), c(Math.sqrt(2 / Math.PI)));
  return [mul(half, add(g.node("Tanh", [inner])[0]!, c(1)))];
};

/** clamp: Clip with the bounds as 0-d inputs of the output's dtype ("" for a missing one). */
const clamp: Converter = (g, [x], op) => {
  const dtype = outputOf(op).dtype;
  const { min, max } = attrsOf(op) as { min?: number; max?: number };
  const bound = (v: number | undefined) => (v === undefined ? "" : scalar(g, v, dtype));
  return g.node("Clip", [as(g, x!, dtype), bound(min), bound(max)]);
};

/** cumsum: CumSum along the axis (an int64 input), reversed on request. */
const cumsum: Converter = (g, [x], op) => {
  const { axis, reverse } = attrsOf(op) as { axis: number; reverse?: boolean };
  const rank = op.inputs[0]!.ndim;
  if (rank === 0) return g.node("Identity", [x!]);
  return g.node("CumSum", [x!, g.ints([axis < 0 ? axis + rank : axis])], {
    reverse: reverse === true ? 1 : 0,
  });
};

/** variance: (Σ(x − mean)²)/(N − correction) over the axes, with ONNX's reductions. */
const variance: Converter = (g, [x], op) => {
  const { axis, correction = 1 } = attrsOf(op) as { axis?: unknown; correction?: number };
  const input = op.inputs[0]!;
  const dtype = outputOf(op).dtype;
  const axes = reducedAxes(axis, input.ndim);
  const count = axes.reduce((n, a) => n * input.shape[a]!, 1);
  const source = as(g, x!, dtype);
  // No axes: each element is its own sample (ONNX's reductions would take empty axes as all).
  const reduce = (opType: string, value: string) =>
    axes.length === 0
      ? value
      : opType === "ReduceSum"
        ? g.node(opType, [value, g.ints(axes)], { keepdims: 1 })[0]!
        : g.node(opType, [value], { axes, keepdims: 1 })[0]!;
  const deviation = g.node("Sub", [source, reduce("ReduceMean", source)])[0]!;
  const total = reduce("ReduceSum", g.node("Mul", [deviation, deviation])[0]!);
  const divided = g.node("Div", [total, scalar(g, count - correction, dtype)])[0]!;
  return reshape(g, divided, outputOf(op).shape);
};

/** tril and triu: Trilu with the diagonal offset k. */
function triangle(upper: boolean): Converter {
  return (g, [x], op) => {
    const k = g.valueOf(full([], (attrsOf(op).k as number | undefined) ?? 0, "float64"));
    return g.node("Trilu", [x!, g.node("Cast", [k], { to: INT64_TYPE })[0]!], {
      upper: upper ? 1 : 0,
    });
  };
}

/**
 * resize2d: Resize. A scale factor goes in as scales (ONNX then maps coordinates by 1/s, as
 * PyTorch does), a size as sizes; legacy nearest is asymmetric coordinates rounded down, bilinear
 * half-pixel (clamped at the borders, as PyTorch; ONNX's "pytorch_half_pixel" differs for an
 * output of size 1) or align-corners.
 */
const resize: Converter = (g, [x], op) => {
  const attrs = attrsOf(op) as {
    scaleFactor?: number | readonly [number, number];
    mode: string;
    alignCorners?: boolean;
  };
  const bilinear = attrs.mode === "bilinear";
  const modes: Record<string, AttrValue> = bilinear
    ? {
        mode: "linear",
        coordinate_transformation_mode: attrs.alignCorners ? "align_corners" : "half_pixel",
      }
    : { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" };
  return asBatched(g, x!, op, (input) => {
    if (attrs.scaleFactor !== undefined) {
      const [sh, sw] = pair(attrs.scaleFactor, [1, 1]);
      const scales = g.valueOf(tensor([1, 1, sh, sw]));
      const resized = g.node("Resize", [input, "", scales], modes)[0]!;
      const [h, w] = outputOf(op).shape.slice(-2);
      return g.node("Slice", [resized, g.ints([0, 0]), g.ints([h!, w!]), g.ints([2, 3])])[0]!;
    }
    const out = outputOf(op).shape;
    const sizes = g.ints(op.inputs[0]!.ndim === 4 ? out : [1, ...out]);
    return g.node("Resize", [input, "", "", sizes], modes)[0]!;
  });
};

/**
 * einsum as ONNX's Einsum, operands in the output's dtype. The equation is rewritten in the
 * form every runtime reads: `...` becomes explicit letters (the operands expanded where they
 * broadcast along it), a 0-d operand a [1] axis of its own, and the output is always explicit
 * (the implicit one is `...`'s letters, then the letters used once, in code-point order, as
 * PyTorch). An explicit output without `...` sums its axes, as PyTorch does.
 */
const einsum: Converter = (g, inputs, op) => {
  const dtype = outputOf(op).dtype;
  const equation = (attrsOf(op).equation as string).replace(/\s+/g, "");
  const [lhs, rhs] = equation.split("->") as [string, string | undefined];
  const terms = lhs.split(",");
  const used = new Set(equation.replace(/[^A-Za-z]/g, ""));
  const spare = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"].filter(
    (c) => !used.has(c),
  );
  const ellipsisRanks = terms.map((t, i) =>
    t.includes("...") ? op.inputs[i]!.ndim - t.replace("...", "").length : 0,
  );
  const rank = Math.max(0, ...ellipsisRanks);
  const letters = spare.splice(0, rank).join("");
  // The broadcast size of each ellipsis axis, right-aligned across the operands.
  const sizes = Array.from({ length: rank }, (_, a) =>
    Math.max(
      1,
      ...terms.map((t, i) => {
        const offset = a - (rank - ellipsisRanks[i]!);
        const before = t.indexOf("...");
        return before >= 0 && offset >= 0 ? op.inputs[i]!.shape[before + offset]! : 1;
      }),
    ),
  );
  const operands = inputs.map((v, i) => {
    const x = op.inputs[i]!;
    const value = as(g, v, dtype);
    if (x.ndim === 0) return g.node("Reshape", [value, g.ints([1])])[0]!;
    const e = ellipsisRanks[i]!;
    if (e === 0) return value;
    const before = terms[i]!.indexOf("...");
    const target = x.shape.map((d, k) =>
      k >= before && k < before + e ? sizes[rank - e + k - before]! : d,
    );
    return target.every((d, k) => d === x.shape[k])
      ? value
      : g.node("Expand", [value, g.ints(target)])[0]!;
  });
  const written = terms.map((t, i) =>
    op.inputs[i]!.ndim === 0
      ? spare[i]!
      : t.replace("...", letters.slice(rank - ellipsisRanks[i]!)),
  );
  const counts = new Map<string, number>();
  for (const c of lhs.replace(/[^A-Za-z]/g, "")) counts.set(c, (counts.get(c) ?? 0) + 1);
  const output =
    rhs === undefined
      ? letters +
        [...counts]
          .filter(([, n]) => n === 1)
          .map(([c]) => c)
          .sort()
          .join("")
      : rhs.replace("...", letters);
  return g.node("Einsum", operands, { equation: `${written.join(",")}->${output}` });
};

/**
 * sort and topk: TopK (over the whole axis for sort), indices cast to int32. topk's
 * `sorted: false` keeps the chosen entries in their order in x: a second TopK orders them by
 * index.
 */
function topK(kind: "sort" | "topk"): Converter {
  return (g, [x], op) => {
    const attrs = attrsOf(op);
    const input = op.inputs[0]!;
    if (input.ndim === 0) {
      return [g.node("Identity", [x!])[0]!, g.valueOf(full([], 0, "int32"))];
    }
    const axisAttr = (attrs.axis as number | undefined) ?? -1;
    const axis = axisAttr < 0 ? axisAttr + input.ndim : axisAttr;
    const k = kind === "sort" ? input.shape[axis]! : (attrs.k as number);
    const largest = kind === "sort" ? attrs.descending === true : attrs.largest !== false;
    let [values, indices] = g.node(
      "TopK",
      [x!, g.ints([k])],
      {
        axis,
        largest: largest ? 1 : 0,
        sorted: 1,
      },
      2,
    ) as [string, string];
    if (kind === "topk" && attrs.sorted === false) {
      const negated = g.node("Neg", [g.node("Cast", [indices], { to: ELEMENT_TYPE.float64 })[0]!]);
      const order = g.node(
        "TopK",
        [negated[0]!, g.ints([k])],
        { axis, largest: 1, sorted: 1 },
        2,
      )[1]!;
      values = g.node("GatherElements", [values, order], { axis })[0]!;
      indices = g.node("GatherElements", [indices, order], { axis })[0]!;
    }
    return [values, g.node("Cast", [indices], { to: ELEMENT_TYPE.int32 })[0]!];
  };
}

/** takeAlongAxis: GatherElements. */
const takeAlongAxis: Converter = (g, [x, indices], op) =>
  g.node("GatherElements", [x!, indices!], { axis: (attrsOf(op).axis as number) ?? -1 });

/** scatterAddAlongAxis: ScatterElements adding into zeros of the target shape. */
const scatterAddAlongAxis: Converter = (g, [updates, indices], op) => {
  const target = g.valueOf(full(outputOf(op).shape, 0, outputOf(op).dtype));
  return g.node("ScatterElements", [target, indices!, as(g, updates!, outputOf(op).dtype)], {
    axis: (attrsOf(op).axis as number) ?? -1,
    reduction: "add",
  });
};

/**
 * scaledDotProductAttention (and its masked form): softmax(q·kᵀ·scale, masked) v with MatMul and
 * Softmax, and the log-sum-exp output from ReduceLogSumExp. An int32 mask keeps the scores
 * where it is 1 (others become −∞), a float mask is added; causal is a constant lower triangle.
 * Dropout has no ONNX form: export in eval mode, where attention layers draw none.
 */
const attention: Converter = (g, [q, k, v, mask], op) => {
  const attrs = attrsOf(op) as { causal?: boolean; scale?: number; dropout?: unknown };
  const where = g.scope === "" ? "the model" : `layer ${g.scope}`;
  if (attrs.dropout !== undefined) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `exportOnnx: ${where} applies attention dropout, which has no ONNX form; export in eval mode`,
    );
  }
  const [qt, kt] = [op.inputs[0]!, op.inputs[1]!];
  const dtype = outputOf(op).dtype;
  const rank = kt.ndim;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  const scale = attrs.scale ?? 1 / Math.sqrt(qt.shape[qt.ndim - 1]!);
  const keysT = g.node("Transpose", [k!], { perm })[0]!;
  let scores = g.node("Mul", [g.node("MatMul", [q!, keysT])[0]!, scalar(g, scale, dtype)])[0]!;
  const minusInfinity = scalar(g, -Infinity, dtype);
  const keep = (allowed: string) =>
    g.node("Where", [g.node("Cast", [allowed], { to: BOOL })[0]!, scores, minusInfinity])[0]!;
  if (mask !== undefined) {
    scores =
      op.inputs[3]!.dtype === "int32"
        ? keep(mask)
        : g.node("Add", [scores, as(g, mask, dtype)])[0]!;
  }
  if (attrs.causal === true) {
    const [lq, lk] = [qt.shape[qt.ndim - 2]!, kt.shape[rank - 2]!];
    const lower = Array.from({ length: lq * lk }, (_, i) => (i % lk <= Math.floor(i / lk) ? 1 : 0));
    scores = keep(g.valueOf(tensor(lower, { shape: [lq, lk], dtype: "int32" })));
  }
  const probabilities = g.node("Softmax", [scores], { axis: -1 })[0]!;
  const y = g.node("MatMul", [probabilities, v!])[0]!;
  const lse = g.node("ReduceLogSumExp", [scores], { axes: [-1], keepdims: 0 })[0]!;
  return [y, lse];
};

/**
 * layerNorm: ONNX's LayerNormalization (opset 17) over the trailing axes weight spans; its mean
 * and inverse standard deviation keep those axes as 1s, which the op's outputs drop.
 */
const layerNormalization: Converter = (g, [x, weight, bias], op) => {
  const [input, scale] = op.inputs;
  const axis = input!.ndim - scale!.ndim;
  const epsilon = (attrsOf(op).eps as number | undefined) ?? 1e-5;
  const [y, mean, rstd] = g.node(
    "LayerNormalization",
    [x!, weight!, bias!],
    { axis, epsilon: { float: epsilon } },
    3,
  );
  const lead = op.outputs[1]!.shape;
  return [y!, reshape(g, mean!, lead)[0]!, reshape(g, rstd!, lead)[0]!];
};

/**
 * lstmCell: the gates split in four along the last axis (i, f, g, o), then ONNX's Sigmoid and
 * Tanh; c′ = f·c + i·g, h′ = o·tanh(c′) and the activations concatenated, as the kernel computes.
 */
const lstmCell: Converter = (g, [gates, c], op) => {
  const hidden = op.outputs[0]!.shape.at(-1)!;
  const parts = g.node(
    "Split",
    [gates!, g.ints([hidden, hidden, hidden, hidden])],
    { axis: -1 },
    4,
  );
  const [i, f, cand, o] = parts.map((v, k) => g.node(k === 2 ? "Tanh" : "Sigmoid", [v])[0]!);
  const mul = (a: string, b: string) => g.node("Mul", [a, b])[0]!;
  const cNext = g.node("Add", [mul(f!, c!), mul(i!, cand!)])[0]!;
  const t = g.node("Tanh", [cNext])[0]!;
  const acts = g.node("Concat", [i!, f!, cand!, o!, t], { axis: -1 })[0]!;
  return [mul(o!, t), cNext, acts];
};

/**
 * gruCell: both projections split in three along the last axis (r, z, n); r and z by Sigmoid of
 * their sums, n = tanh(x_n + r·h_n), h′ = n + z·(h − n) and the activations concatenated.
 */
const gruCell: Converter = (g, [xs, hs, h], op) => {
  const hidden = op.outputs[0]!.shape.at(-1)!;
  const sizes = g.ints([hidden, hidden, hidden]);
  const [xr, xz, xn] = g.node("Split", [xs!, sizes], { axis: -1 }, 3);
  const [hr, hz, hn] = g.node("Split", [hs!, sizes], { axis: -1 }, 3);
  const add = (a: string, b: string) => g.node("Add", [a, b])[0]!;
  const mul = (a: string, b: string) => g.node("Mul", [a, b])[0]!;
  const r = g.node("Sigmoid", [add(xr!, hr!)])[0]!;
  const z = g.node("Sigmoid", [add(xz!, hz!)])[0]!;
  const n = g.node("Tanh", [add(xn!, mul(r, hn!))])[0]!;
  const hNext = add(n, mul(z, g.node("Sub", [h!, n])[0]!));
  return [hNext, g.node("Concat", [r, z, n], { axis: -1 })[0]!];
};

/**
 * Every op the exporter writes, by registered name. An op missing here still exports when its
 * forward is written with ops that are here (a function op's inner ops are converted instead).
 */
export const CONVERTERS: Readonly<Record<string, Converter>> = {
  // Elementwise, one input.
  abs: elementwise("Abs"),
  neg: elementwise("Neg"),
  exp: elementwise("Exp"),
  log: elementwise("Log"),
  sqrt: elementwise("Sqrt"),
  sin: elementwise("Sin"),
  cos: elementwise("Cos"),
  tanh: elementwise("Tanh"),
  sigmoid: elementwise("Sigmoid"),
  relu: elementwise("Relu"),
  reciprocal: elementwise("Reciprocal"),
  sign: elementwise("Sign"),
  softplus: elementwise("Softplus"),
  erf: elementwise("Erf"),
  leakyRelu: elementwise("LeakyRelu", (op) => ({ alpha: { float: attrsOf(op).alpha as number } })),
  square: (g, [x]) => g.node("Mul", [x!, x!]),
  log1p: (g, [x], op) => g.node("Log", [g.node("Add", [x!, scalar(g, 1, outputOf(op).dtype)])[0]!]),
  step: (g, [x], op) => {
    const positive = g.node("Greater", [x!, scalar(g, 0, op.inputs[0]!.dtype)])[0]!;
    return g.node("Cast", [positive], { to: ELEMENT_TYPE[outputOf(op).dtype] });
  },
  gelu,
  clamp,
  cast: (g, [x], op) => g.node("Cast", [x!], { to: ELEMENT_TYPE[outputOf(op).dtype] }),
  // Elementwise, two or three inputs.
  add: elementwise("Add"),
  sub: elementwise("Sub"),
  mul: elementwise("Mul"),
  div: elementwise("Div"),
  pow: elementwise("Pow"),
  maximum: elementwise("Max"),
  minimum: elementwise("Min"),
  equal: comparison("Equal"),
  notEqual: comparison("Equal", true),
  greater: comparison("Greater"),
  greaterEqual: comparison("GreaterOrEqual"),
  less: comparison("Less"),
  lessEqual: comparison("LessOrEqual"),
  where: (g, [condition, a, b], op) => {
    const dtype = outputOf(op).dtype;
    const test = g.node("Cast", [condition!], { to: BOOL })[0]!;
    return g.node("Where", [test, as(g, a!, dtype), as(g, b!, dtype)]);
  },
  // Shapes and indexing.
  reshape: (g, [x], op) => reshape(g, x!, outputOf(op).shape),
  broadcastTo: (g, [x], op) => {
    // Expand's shape broadcasts with x's: a 1 keeps x's size, so only the grown dims are fixed.
    const out = outputOf(op).shape;
    const x0 = op.inputs[0]!.shape;
    const offset = out.length - x0.length;
    const target = out.map((d, i) => (i >= offset && x0[i - offset] === d ? 1 : d));
    return g.node("Expand", [x!, g.ints(target)]);
  },
  transpose: (g, [x], op) => {
    const rank = op.inputs[0]!.ndim;
    const perm = (attrsOf(op).perm as number[] | undefined) ?? [...Array(rank).keys()].reverse();
    return g.node("Transpose", [x!], { perm: perm.map((p) => (p < 0 ? p + rank : p)) });
  },
  concat: (g, inputs, op) => g.node("Concat", inputs, { axis: (attrsOf(op).axis as number) ?? 0 }),
  slice,
  pad,
  tril: triangle(false),
  triu: triangle(true),
  gather: (g, [x, indices], op) =>
    g.node("Gather", [x!, indices!], { axis: (attrsOf(op).axis as number) ?? 0 }),
  takeAlongAxis,
  scatterAddAlongAxis,
  sort: topK("sort"),
  topk: topK("topk"),
  // Reductions and scans.
  sum: reduction("ReduceSum"),
  max: reduction("ReduceMax"),
  min: reduction("ReduceMin"),
  logSumExp: reduction("ReduceLogSumExp"),
  variance,
  argmax: argReduction("ArgMax"),
  argmin: argReduction("ArgMin"),
  cumsum,
  softmax: elementwise("Softmax", (op) => ({ axis: (attrsOf(op).axis as number) ?? -1 })),
  logSoftmax: elementwise("LogSoftmax", (op) => ({ axis: (attrsOf(op).axis as number) ?? -1 })),
  layerNorm: layerNormalization,
  lstmCell,
  gruCell,
  // Products, convolutions, pooling, resizing, attention.
  matmul,
  einsum,
  conv2d: convolution,
  fusedConv2d: convolution,
  conv2dBackpropInput: transposedConvolution,
  maxPool2d: pooling("MaxPool", (attrs) => ({ dilations: pair(attrs.dilation, [1, 1]) })),
  avgPool2d: pooling("AveragePool", (attrs) => ({
    count_include_pad: attrs.countIncludePad === false ? 0 : 1,
  })),
  resize2d: resize,
  scaledDotProductAttention: attention,
  scaledDotProductAttentionMasked: attention,
};
