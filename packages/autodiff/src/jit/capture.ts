import { captureSite, userFrames } from "../anomaly.js";
import { TapegradError, show } from "../errors.js";
import type { AnyOpDefinition } from "../registry.js";
import {
  closeTrace,
  live,
  lower,
  openTrace,
  traceInput,
  type Applied,
  type Interpreter,
  type Trace,
} from "../tape.js";
import { Tensor } from "../tensor.js";
import { treeMap } from "../tree.js";
import {
  Program,
  ResultSlot,
  mapTensors,
  tensorsOf,
  type Equation,
  type ValueType,
} from "./program.js";

/** A traced call: what f returned, and the program that computes it from new arguments. */
export interface Captured {
  readonly result: unknown;
  readonly program: Program;
  /**
   * False when the program closed over a value of a transform open around this call (a
   * gradient's traced value): it is right for this call only and must not be replayed.
   */
  readonly reusable: boolean;
}

let captures = 0;

/**
 * The outermost jit trace open now, by number (0 when none): a random generator made before it
 * must not draw while it is open.
 */
export let openCapture = 0;

/**
 * `args` with `replace` applied to each tensor leaf of the arguments that are not static, in the
 * order a program numbers its inputs. Tracing and replaying both walk the arguments through here.
 */
export function mapArgumentTensors(
  args: readonly unknown[],
  statics: ReadonlySet<number>,
  replace: (x: Tensor, argnum: number) => Tensor,
): unknown[] {
  return args.map((arg, i) => (statics.has(i) ? arg : mapTensors(arg, (x) => replace(x, i))));
}

/**
 * Runs f once on `args` at a new trace level that records every op applied to its values, and
 * returns f's result with the program it ran. The ops compute as usual underneath, so the result
 * is f's, and transforms open around the call record them too.
 */
export function capture(
  f: (...args: unknown[]) => unknown,
  args: readonly unknown[],
  statics: ReadonlySet<number>,
  donated: ReadonlySet<number>,
): Captured {
  const recorder = new ProgramRecorder();
  const trace = openTrace(recorder);
  recorder.trace = trace;
  const outer = openCapture;
  if (outer === 0) openCapture = ++captures;
  try {
    const inputs: number[] = [];
    const donatedInputs: boolean[] = [];
    const traced = mapArgumentTensors(args, statics, (x, argnum) => {
      const view = traceInput(live(x), trace);
      inputs.push(recorder.define(view));
      donatedInputs.push(donated.has(argnum));
      return view;
    });
    const out = f(...traced);
    // While the level is open, so that its views are told apart from leaked inner ones.
    const slots = treeMap((leaf: unknown) => resultSlot(recorder, leaf), out);
    const result = treeMap(
      (leaf: unknown) => (leaf instanceof Tensor ? lower(live(leaf), trace) : leaf),
      out,
    );
    const program = new Program(
      recorder.types,
      inputs,
      donatedInputs,
      recorder.constants,
      recorder.equations,
      slots,
    );
    return { result, program, reusable: recorder.reusable };
  } finally {
    openCapture = outer;
    closeTrace(trace);
  }
}

/** What a leaf of f's result becomes in the program: a ResultSlot for a tensor, else itself. */
function resultSlot(recorder: ProgramRecorder, leaf: unknown): unknown {
  if (leaf instanceof Tensor) return new ResultSlot(recorder.valueOf(live(leaf)));
  if ((typeof leaf === "object" && leaf !== null) || typeof leaf === "function") {
    // Its contents would be those of the traced call on every later call.
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `jit: the function must return tensors, numbers or arrays and plain objects of them, got ` +
        `${show(leaf)} in its result`,
    );
  }
  return leaf;
}

/**
 * jit's level: each op applied to its values becomes an equation of the program, then computes
 * one level down as it would have without jit.
 */
class ProgramRecorder implements Interpreter {
  trace!: Trace;
  readonly types: ValueType[] = [];
  readonly constants = new Map<number, Tensor>();
  readonly equations: Equation[] = [];
  reusable = true;
  /** Views of this level and constants, each with its value's number. */
  private readonly values = new Map<Tensor, number>();

  /** Numbers a new value. */
  define(x: Tensor): number {
    const id = this.types.length;
    this.types.push({ shape: x.shape, dtype: x.dtype });
    this.values.set(x, id);
    return id;
  }

  /** x's number; a tensor that no op of this level made is a constant of the program. */
  valueOf(x: Tensor): number {
    const known = this.values.get(x);
    if (known !== undefined) return known;
    const id = this.define(x);
    this.constants.set(id, x);
    if (x.trace !== null) this.reusable = false;
    return id;
  }

  apply(
    op: AnyOpDefinition,
    inputs: readonly Tensor[],
    attrs: unknown,
    below: (inputs: Tensor[]) => Applied,
  ): Applied {
    const ids = inputs.map((x) => this.valueOf(x));
    const attrInputs = tensorsOf(attrs).map((x) => this.valueOf(live(x)));
    const applied = below(inputs.map((x) => lower(x, this.trace)));
    const outputs: number[] = [];
    const ys = applied.ys.map((y) => this.view(y, outputs));
    const residuals: number[] = [];
    const saved = mapTensors(applied.saved, (r) => this.view(r, residuals));
    this.equations.push({ op, attrs, inputs: ids, attrInputs, outputs, residuals });
    return { ys, saved };
  }

  checkRead(reader: string): void {
    const what = reader === "data" ? ".data" : `.${reader}()`;
    const line = firstUserLine();
    throw new TapegradError(
      "INVALID_STATE",
      `jit: ${what}${line === "" ? "" : ` at ${line}`} read a value that jit is tracing. A ` +
        `jitted function runs once to record its ops; later calls replay those ops on new ` +
        `arguments without running its JavaScript, so its tensors' values cannot be read, or ` +
        `decide an if or a loop, while it is traced. Compute with ops instead (where, maximum, ` +
        `clamp, …), or make the argument that decides it static: jit(f, { staticArgnums: [i] }) ` +
        `traces f again for each new value of argument i and replays the rest.`,
    );
  }

  /** A view of this level over y, a new value whose number goes to `ids`. */
  private view(y: Tensor, ids: number[]): Tensor {
    const view = traceInput(y, this.trace);
    ids.push(this.define(view));
    return view;
  }
}

/** `file:line:column` of the innermost caller outside tapegrad ("" if none is known). */
function firstUserLine(): string {
  const frame = userFrames(captureSite()).split("\n")[0]!;
  const inParens = /\(([^()]*)\)$/.exec(frame);
  return (inParens?.[1] ?? frame.replace(/^at /, "")).trim();
}
