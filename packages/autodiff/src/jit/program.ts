import { TapegradError } from "../errors.js";
import { withAllocator, type DType, type TypedArray } from "../dtype.js";
import { shapesEqual } from "../shape.js";
import { applyOp, hasForwardHook, type AnyOpDefinition } from "../registry.js";
import { isTracing } from "../tape.js";
import { fuseElementwise, jitTuning } from "./fusion.js";
import { AllocationRecorder, planMemory, type Liveness, type MemoryPlan } from "./memoryPlan.js";
import { Tensor } from "../tensor.js";
import { isContainer, treeMap } from "../tree.js";

/** The type of one value of a program: what its tensor's shape and dtype are on every call. */
export interface ValueType {
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** The tensor's dtype. */
  readonly dtype: DType;
}

/** One op application of a program: values are numbered, in the order the trace met them. */
export interface Equation {
  /** The op applied. */
  readonly op: AnyOpDefinition;
  /** As the traced call gave them; its tensors are replaced by those of `attrInputs` each run. */
  readonly attrs: unknown;
  /** The values it is applied to, in the op's input order. */
  readonly inputs: readonly number[];
  /** The values of the tensors inside attrs (attention's dropout key), in mapTensors' order. */
  readonly attrInputs: readonly number[];
  /** One per declared output of the op. */
  readonly outputs: readonly number[];
  /**
   * The tensors among the residuals the op's forward keeps (maxPool2d's argmax): a vjp traced
   * with the program reads them as values like any other.
   */
  readonly residuals: readonly number[];
}

/** Where a tensor of the function's result comes from: a value of the program. */
export class ResultSlot {
  constructor(readonly value: number) {}
}

/**
 * A traced function: its ops in the order they ran, over numbered values — the tensor arguments
 * first, then the constants it closed over or made, then what each op computed. Running it
 * applies the same ops to new arguments, through every transform open around the call.
 */
export class Program {
  constructor(
    /** Every value's type, by number. */
    readonly types: readonly ValueType[],
    /** The values that are the tensor leaves of the arguments, in order. */
    readonly inputs: readonly number[],
    /** Whether each of those belongs to a donated argument (jit's donateArgnums). */
    private readonly donatedInputs: readonly boolean[],
    /** The values that are the same on every call, with their tensors. */
    readonly constants: ReadonlyMap<number, Tensor>,
    /** The op applications, in the order they ran. */
    readonly equations: readonly Equation[],
    /** The function's result, its tensors replaced by ResultSlots. */
    readonly result: unknown,
  ) {}

  /** The memory plan of replays below every transform, once one has been recorded. */
  private plan: MemoryPlan | undefined;
  private fusedEquations: readonly Equation[] | undefined;

  /**
   * The equations a replay below every transform runs: `equations` with chains of elementwise
   * ops fused into single passes (docs/jit.md#fusion). Under a transform each op runs on its own,
   * so that the transform sees it.
   */
  get fused(): readonly Equation[] {
    if (this.fusedEquations === undefined) {
      this.fusedEquations = jitTuning.fuse
        ? fuseElementwise(this.types, this.equations, this.resultValues())
        : this.equations;
    }
    return this.fusedEquations;
  }

  /** The values the function's result holds. */
  private resultValues(): Set<number> {
    const values = new Set<number>();
    treeMap((leaf: unknown) => {
      if (leaf instanceof ResultSlot) values.add(leaf.value);
      return leaf;
    }, this.result);
    return values;
  }

  /** The result for new tensor arguments (`inputs`' leaves, in order, of the types traced). */
  run(args: readonly Tensor[]): unknown {
    // Under a transform the values outlive the replay (a tape keeps them for its backward pass),
    // and a forward hook may keep them too: only a replay below all of them shares buffers.
    if (isTracing() || hasForwardHook()) return this.resultOf(this.evaluate(args, this.equations));
    const equations = this.fused;
    if (this.plan === undefined) {
      const recorder = new AllocationRecorder();
      const env = withAllocator(recorder, () => this.evaluate(args, equations, recorder));
      this.plan = planMemory(recorder, this.liveness(env, equations));
      return this.resultOf(env);
    }
    const plan = this.plan;
    plan.begin(this.donors(args));
    const env = withAllocator(plan, () => this.evaluate(args, equations));
    if (!plan.matched) this.plan = undefined;
    return this.resultOf(env);
  }

  /**
   * The buffers of this call's donated tensors, by value, that results may be written over: each
   * one's memory belongs to no other argument (a tensor passed twice, or a view of another) and
   * to no constant.
   */
  private donors(args: readonly Tensor[]): ReadonlyMap<number, TypedArray> {
    const owners = new Map<ArrayBufferLike, number>();
    for (const x of [...args, ...this.constants.values()]) {
      owners.set(x.buffer.buffer, (owners.get(x.buffer.buffer) ?? 0) + 1);
    }
    const donors = new Map<number, TypedArray>();
    this.inputs.forEach((id, i) => {
      const x = args[i]!;
      if (this.donatedInputs[i] && owners.get(x.buffer.buffer) === 1) donors.set(id, x.buffer);
    });
    return donors;
  }

  /**
   * Bytes of the buffers that replays share (intermediates, temporaries), once a replay has been
   * planned; the results are allocated afresh by every call.
   */
  get plannedBytes(): number | undefined {
    return this.plan?.bytes;
  }

  /**
   * Every value of a run of `equations` (`this.equations` or `fused`) on `args`, by number (a
   * fused chain's intermediates stay unset); `recorder` is told each equation's number.
   */
  private evaluate(
    args: readonly Tensor[],
    equations: readonly Equation[],
    recorder?: AllocationRecorder,
  ): Tensor[] {
    const env = new Array<Tensor>(this.types.length);
    this.inputs.forEach((id, i) => (env[id] = args[i]!));
    for (const [id, value] of this.constants) env[id] = value;
    equations.forEach((eq, n) => {
      if (recorder !== undefined) recorder.equation = n;
      const xs = eq.inputs.map((id) => env[id]!);
      let k = 0;
      const attrs =
        eq.attrInputs.length === 0
          ? eq.attrs
          : mapTensors(eq.attrs, () => env[eq.attrInputs[k++]!]!);
      const { ys, saved } = applyOp(eq.op, xs, attrs);
      eq.outputs.forEach((id, k) => (env[id] = ys[k]!));
      if (eq.residuals.length > 0) {
        const kept = tensorsOf(saved);
        if (kept.length !== eq.residuals.length) {
          throw new TapegradError(
            "INVALID_STATE",
            `jit: ${eq.op.name} kept ${kept.length} residual tensors where its traced call kept ` +
              `${eq.residuals.length}`,
          );
        }
        eq.residuals.forEach((id, k) => (env[id] = kept[k]!));
      }
    });
    return env;
  }

  /** The function's result from a run's values. */
  private resultOf(env: readonly Tensor[]): unknown {
    return treeMap(
      (leaf: unknown) => (leaf instanceof ResultSlot ? env[leaf.value] : leaf),
      this.result,
    );
  }

  /** Which of `equations` last read each buffer of a run, and which buffers its results hold. */
  private liveness(env: readonly Tensor[], equations: readonly Equation[]): Liveness {
    const lastRead = new Map<ArrayBufferLike, number>();
    equations.forEach((eq, n) => {
      for (const id of eq.inputs) lastRead.set(env[id]!.buffer.buffer, n);
      for (const id of eq.attrInputs) lastRead.set(env[id]!.buffer.buffer, n);
    });
    const results = new Set([...this.resultValues()].map((id) => env[id]!.buffer.buffer));
    // Outputs that may take a donated input's buffer: their op updates that input in place, and
    // nothing reads the input after it (nor is it a result itself).
    const inPlace = new Map<ArrayBufferLike, number>();
    const donated = new Set(this.inputs.filter((_, i) => this.donatedInputs[i]));
    equations.forEach((eq, n) => {
      eq.op.inPlace?.forEach((i, k) => {
        const input = i === null ? undefined : eq.inputs[i];
        if (input === undefined || !donated.has(input)) return;
        const memory = env[input]!.buffer.buffer;
        const [from, to] = [this.types[input]!, this.types[eq.outputs[k]!]!];
        const sameType = from.dtype === to.dtype && shapesEqual(from.shape, to.shape);
        if (sameType && lastRead.get(memory) === n && !results.has(memory)) {
          inPlace.set(env[eq.outputs[k]!]!.buffer.buffer, input);
        }
      });
    });
    return { lastRead, results, inPlace };
  }

  /**
   * The program as text, one op a line, in the manner of JAX's jaxprs:
   * `{ lambda c:f32[3] ; a:f32[2,3] b:f32[3] . let d:f32[2,3] = add a b {} … in (d) }`. With
   * `fused`, the equations a replay below every transform runs, each fused pass as one line
   * (`d:f32[2,3] = fused[add,relu] a b`).
   */
  toString(options: { readonly fused?: boolean } = {}): string {
    const equations = options.fused === true ? this.fused : this.equations;
    const name = (id: number) => valueName(id);
    const typed = (id: number) => `${name(id)}:${showType(this.types[id]!)}`;
    const lines = [
      `{ lambda ${[...this.constants.keys()].map(typed).join(" ")} ; ` +
        `${this.inputs.map(typed).join(" ")} . let`,
    ];
    for (const eq of equations) {
      const outs = [...eq.outputs, ...eq.residuals].map(typed).join(" ");
      const ins = eq.inputs.map(name).join(" ");
      const attrValues =
        eq.attrInputs.length === 0 ? "" : ` [${eq.attrInputs.map(name).join(" ")}]`;
      lines.push(
        `    ${outs} = ${eq.op.name} ${ins}${attrValues} ${showAttrs(eq.attrs)}`.trimEnd(),
      );
    }
    const results: string[] = [];
    treeMap((leaf: unknown) => {
      results.push(leaf instanceof ResultSlot ? name(leaf.value) : String(leaf));
      return leaf;
    }, this.result);
    lines.push(`  in (${results.join(", ")}) }`);
    return lines.join("\n");
  }
}

/**
 * `value` with each of its tensors replaced: the value itself if a tensor, else the tensor leaves
 * of a tree (arrays and plain objects); anything else as it is.
 */
export function mapTensors(value: unknown, replace: (x: Tensor) => Tensor): unknown {
  if (value instanceof Tensor) return replace(value);
  if (!isContainer(value)) return value;
  return treeMap((leaf: unknown) => (leaf instanceof Tensor ? replace(leaf) : leaf), value);
}

/** The tensors of `value` (as mapTensors finds them), in order. */
export function tensorsOf(value: unknown): Tensor[] {
  const found: Tensor[] = [];
  mapTensors(value, (x) => {
    found.push(x);
    return x;
  });
  return found;
}

/** a, b, …, z, ba, bb, …: a value's name in a listing (base 26, as jaxprs name theirs). */
function valueName(id: number): string {
  let s = "";
  do {
    s = String.fromCharCode(97 + (id % 26)) + s;
    id = Math.floor(id / 26);
  } while (id > 0);
  return s;
}

const SHORT_DTYPES: Readonly<Record<DType, string>> = {
  float32: "f32",
  float64: "f64",
  int32: "i32",
};

function showType(type: ValueType): string {
  return `${SHORT_DTYPES[type.dtype]}[${type.shape.join(",")}]`;
}

/** Attrs as `{name: value, …}`; functions and other objects by their kind, not their code. */
function showAttrs(attrs: unknown): string {
  const text = JSON.stringify(attrs, (_key, value: unknown) => {
    if (typeof value === "function") return "<function>";
    if (value instanceof Tensor) return `<${showType(value)}>`;
    return value;
  });
  return text === undefined || text === "{}" ? "" : text;
}
