import { TapegradError } from "../errors.js";
import type { DType, TypedArray } from "../dtype.js";
import { unfilled } from "../ops/util.js";
import type { AnyOpDefinition } from "../registry.js";
import { broadcastStrides } from "../kernels/strided.js";
import { shapeSize, shapesEqual } from "../shape.js";
import type { Tensor } from "../tensor.js";
import type { Equation, ValueType } from "./program.js";

// A chain of elementwise ops run one at a time costs a call per op (dispatch, an output buffer,
// a loop) and reads and writes a whole tensor per op. Fused, it reads each input element once,
// computes every op of the chain on it, and writes one result. Each op still computes its own
// float64 value from its own scalar rule and rounds it to its own dtype, as its forward does, so
// the fused pass gives the same bits as the ops one by one. The pass is generated JavaScript,
// which beats the calls it replaces on small tensors (loss scalars, per-channel statistics, the
// optimizer's step arithmetic) but not the wasm backend's SIMD kernels on large ones: without
// SIMD, relu's select is a branch that mispredicts on every other element of real activations
// (docs/performance.md#jit-fusion). Larger chains run op by op.

/** @internal Switches for tests and benchmarks. */
export const jitTuning = {
  /** Off, replays run op by op. */
  fuse: true,
  /** The largest chain (elements of its values) that is fused. */
  maxFusedElements: 256,
};

/**
 * The equations a replay below every transform runs: `equations` with each chain of elementwise
 * ops replaced by one fused equation at the place of the chain's last op. A chain's values that
 * something outside it reads (a later op, a vjp's residual, `results`) are written out too, when
 * all those reads come after the chain; the rest stay in registers.
 */
export function fuseElementwise(
  types: readonly ValueType[],
  equations: readonly Equation[],
  results: ReadonlySet<number>,
): Equation[] {
  const readers = new Map<number, number[]>();
  equations.forEach((eq, n) => {
    for (const id of [...eq.inputs, ...eq.attrInputs]) {
      let list = readers.get(id);
      if (list === undefined) readers.set(id, (list = []));
      if (list.at(-1) !== n) list.push(n);
    }
  });
  // Results are read after every equation.
  for (const id of results) readers.set(id, [...(readers.get(id) ?? []), equations.length]);
  // consumer[n]: the equation whose pass computes equation n's value too.
  const consumer = new Map<number, number>();
  equations.forEach((eq, n) => {
    const first = readers.get(eq.outputs[0]!)?.[0];
    const next = first === undefined ? undefined : equations[first];
    const shape = types[eq.outputs[0]!]!.shape;
    if (
      isElementwise(eq) &&
      next !== undefined &&
      isElementwise(next) &&
      shapesEqual(types[next.outputs[0]!]!.shape, shape) &&
      shapeSize(shape) <= jitTuning.maxFusedElements
    ) {
      consumer.set(n, first!);
    }
  });
  // A value read outside its chain must be written before those reads: where one is read before
  // the chain's last op, the chain ends at the op that computes it instead. Ending a chain
  // earlier never breaks this for the ops before it, so one pass from the end settles it.
  const lastOf = (n: number): number => {
    let last = n;
    for (let next = consumer.get(last); next !== undefined; next = consumer.get(last)) last = next;
    return last;
  };
  for (let n = equations.length - 1; n >= 0; n--) {
    if (!consumer.has(n)) continue;
    const last = lastOf(n);
    const outside = readers.get(equations[n]!.outputs[0]!)!.filter((r) => r !== consumer.get(n));
    if (outside.some((r) => r <= last)) consumer.delete(n);
  }
  const producer = new Map<number, number>();
  equations.forEach((eq, n) => producer.set(eq.outputs[0]!, n));
  const fused: Equation[] = [];
  equations.forEach((eq, n) => {
    if (consumer.has(n)) return;
    const members = isElementwise(eq) ? chainOf(n, equations, producer, consumer) : [n];
    fused.push(members.length < 2 ? eq : fusedEquation(types, equations, members, readers));
  });
  return fused;
}

/** An equation that jit may fuse: an elementwise op, one output, no tensors in its attrs. */
function isElementwise(eq: Equation): boolean {
  return eq.op.elementwise !== undefined && eq.outputs.length === 1 && eq.attrInputs.length === 0;
}

/** The equations computed inside `last`'s fused pass, `last` included, in program order. */
function chainOf(
  last: number,
  equations: readonly Equation[],
  producer: ReadonlyMap<number, number>,
  consumer: ReadonlyMap<number, number>,
): number[] {
  const members: number[] = [];
  const visit = (n: number) => {
    for (const id of equations[n]!.inputs) {
      const from = producer.get(id);
      if (from !== undefined && consumer.get(from) === n) visit(from);
    }
    members.push(n);
  };
  visit(last);
  return members.sort((a, b) => a - b);
}

/**
 * One equation computing `members` (a chain ending in its last member) in one pass; its outputs
 * are the last member's value and every other member's that something outside the chain reads.
 */
function fusedEquation(
  types: readonly ValueType[],
  equations: readonly Equation[],
  members: readonly number[],
  readers: ReadonlyMap<number, readonly number[]>,
): Equation {
  const values = members.map((n) => equations[n]!.outputs[0]!);
  const inputs: number[] = [];
  for (const n of members) {
    for (const id of equations[n]!.inputs) {
      if (!values.includes(id) && !inputs.includes(id)) inputs.push(id);
    }
  }
  const last = values.length - 1;
  const readOutside = (id: number, k: number) =>
    k !== last && readers.get(id)!.some((r) => !members.includes(r));
  const written = [last, ...values.flatMap((id, k) => (readOutside(id, k) ? [k] : []))];
  const outputs = written.map((k) => values[k]!);
  const steps = members.map((n) => {
    const eq = equations[n]!;
    const dtype = types[eq.outputs[0]!]!.dtype;
    return {
      name: eq.op.name,
      dtype,
      scalar: eq.op.elementwise!(eq.attrs, dtype),
      args: eq.inputs.map((id): Argument => {
        const step = values.indexOf(id);
        return step >= 0 ? { step } : { input: inputs.indexOf(id) };
      }),
    };
  });
  const shape = types[outputs[0]!]!.shape;
  const kernel = compileKernel(
    shape,
    inputs.map((id) => types[id]!.shape),
    steps,
    written,
  )(
    Math.fround,
    steps.map((s) => s.scalar),
  );
  const op: AnyOpDefinition = {
    name: `fused[${steps.map((s) => s.name).join(",")}]`,
    inputs: inputs.map((_, i) => `x${i}`),
    // One output is a plain tensor, as for every op that declares no outputs.
    outputs: outputs.length === 1 ? undefined : outputs.map((_, k) => `y${k}`),
    forward: (xs: readonly Tensor[]) => {
      const ys = outputs.map((id) => unfilled(types[id]!.dtype, shape));
      kernel(
        ys.map((y) => y.buffer),
        xs.map((x) => x.buffer),
      );
      return ys.length === 1 ? ys[0]! : ys;
    },
    vjp: () => {
      throw new TapegradError(
        "INVALID_STATE",
        "jit: a fused pass runs only in a replay below every transform",
      );
    },
  };
  return { op, attrs: {}, inputs, attrInputs: [], outputs, residuals: [] };
}

/** Where one step's argument comes from: an earlier step of the pass, or an input. */
type Argument = { readonly step: number } | { readonly input: number };

/** One op of a fused pass: its arguments and the dtype its value is rounded to. */
interface Step {
  readonly dtype: DType;
  readonly args: readonly Argument[];
}

type Scalar = (...values: number[]) => number;
type Kernel = (outs: readonly TypedArray[], inputs: readonly TypedArray[]) => void;

/**
 * The pass's loop, generated as JavaScript so that each op's scalar rule is a direct call V8 can
 * inline and each input is read with index arithmetic for its own broadcast, e.g.
 * `const a1 = x1[(i / 10) | 0]; const s0 = fround(f0(a0, a1)); …; y0[i] = s2;`.
 */
function compileKernel(
  shape: readonly number[],
  inputShapes: readonly (readonly number[])[],
  steps: readonly Step[],
  written: readonly number[],
): (fround: (v: number) => number, scalars: readonly Scalar[]) => Kernel {
  const body: string[] = [];
  inputShapes.forEach((s, j) => body.push(`const a${j} = x${j}[${indexOf(s, shape)}];`));
  steps.forEach((step, k) => {
    const args = step.args.map((a) => ("step" in a ? `s${a.step}` : `a${a.input}`)).join(", ");
    body.push(`const s${k} = ${rounded(step.dtype, `f${k}(${args})`)};`);
  });
  written.forEach((k, o) => body.push(`y${o}[i] = s${k};`));
  const inputs = inputShapes.map((_, j) => `x${j}`);
  const outputs = written.map((_, o) => `y${o}`);
  const scalars = steps.map((_, k) => `f${k}`);
  const source = [
    `const [${scalars.join(", ")}] = scalars;`,
    `return (outs, inputs) => {`,
    `  const [${outputs.join(", ")}] = outs;`,
    `  const [${inputs.join(", ")}] = inputs;`,
    `  for (let i = 0, n = y0.length; i < n; i++) {`,
    ...body.map((line) => `    ${line}`),
    `  }`,
    `};`,
  ].join("\n");
  return new Function("fround", "scalars", source) as ReturnType<typeof compileKernel>;
}

/** `value` rounded to `dtype` as a typed array of it would store it. */
function rounded(dtype: DType, value: string): string {
  if (dtype === "float32") return `fround(${value})`;
  if (dtype === "int32") return `(${value} | 0)`;
  return value;
}

/**
 * The index into an input of shape `from`, broadcast to `to`, of element i of `to` (row-major):
 * a sum over runs of axes along which the input steps evenly, e.g. `i % 10` for a bias of 10
 * added to [64, 10], `(i / 10) | 0` for [64, 1].
 */
function indexOf(from: readonly number[], to: readonly number[]): string {
  // Each axis of `to` but those of size 1: its size and the input's stride along it.
  const strides = broadcastStrides(from, to);
  const axes = to.flatMap((size, d) => (size === 1 ? [] : [{ size, stride: strides[d]! }]));
  // Merge an axis into the next inner one where the input steps on evenly across both.
  const runs: { size: number; stride: number }[] = [];
  for (const axis of axes) {
    const outer = runs.at(-1);
    if (outer !== undefined && outer.stride === axis.stride * axis.size) {
      runs[runs.length - 1] = { size: outer.size * axis.size, stride: axis.stride };
    } else {
      runs.push({ ...axis });
    }
  }
  const terms: string[] = [];
  let inner = 1;
  for (let r = runs.length - 1; r >= 0; r--) {
    const { size, stride } = runs[r]!;
    if (stride !== 0) {
      let term = inner === 1 ? "i" : `((i / ${inner}) | 0)`;
      if (r > 0) term = `${term} % ${size}`;
      if (stride !== 1) term = `${term} * ${stride}`;
      terms.push(terms.length === 0 && runs.length === 1 ? term : `(${term})`);
    }
    inner *= size;
  }
  return terms.length === 0 ? "0" : terms.join(" + ");
}
