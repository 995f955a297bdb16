import { argnumList, type Argnums } from "../argnums.js";
import { argumentError, show } from "../errors.js";
import { markDonated, type Tensor } from "../tensor.js";
import { capture, mapArgumentTensors } from "./capture.js";
import { tensorsOf, type Program } from "./program.js";
import { signature } from "./signature.js";

/** Options of `jit`. */
export interface JitOptions {
  /**
   * Arguments that are part of the program rather than inputs to it (a flag, a layer count, a
   * model's configuration): f is traced again for each new value of one, compared by value for
   * numbers, strings and trees of them, by identity for other objects. Default: none.
   */
  readonly staticArgnums?: Argnums;
  /**
   * Arguments whose tensors the caller will not use again (the old params and optimizer state
   * of a training step): replays may write results over them instead of allocating, as an op
   * that updates in place allows (Adam's step), and using them afterwards is an error.
   * Default: none.
   */
  readonly donateArgnums?: Argnums;
  /**
   * How many programs to keep, one per signature of the arguments; beyond it the least recently
   * used is dropped (and traced again if it is needed again). Default 64.
   */
  readonly cacheSize?: number;
}

/** A jitted function: call it as f; `trace` shows the program it runs. */
export interface Jitted<Args extends unknown[], R> {
  (...args: Args): R;
  /**
   * The program the call with these arguments runs, traced now (running f) unless one is cached
   * for their signature; `String(program)` lists its ops.
   */
  trace(...args: Args): Program;
  /** How many programs are cached. */
  readonly cacheSize: number;
}

/**
 * Just-in-time tracing: the first call of `jit(f)` for a signature of the arguments (their tree
 * structure, each tensor's shape and dtype, the values of numbers and static arguments) runs f
 * while recording the ops it applies; later calls with that signature replay the recorded ops on
 * the new tensors without running f's JavaScript. Composes with every transform in any order —
 * `jit(valueAndGrad(loss))`, `grad(jit(f))`, `jit(vmap(f))`, jit inside jit — because replayed
 * ops are applied through the transforms open around the call like any other.
 *
 * f must be a function of its arguments: tensors it closes over are constants of the program,
 * numbers in the arguments are part of the signature (pass a scalar tensor for one that changes
 * every call), and reading a tensor's values inside f (`.item()`, `.data`) raises an error that
 * explains static arguments. Random numbers come from keys passed in (`randomUniform(key, …)`),
 * not from an `Rng`, whose draws would repeat on every call.
 */
export function jit<Args extends unknown[], R>(
  f: (...args: Args) => R,
  options: JitOptions = {},
): Jitted<Args, R> {
  if (typeof f !== "function") throw argumentError("jit", `expected a function, got ${show(f)}`);
  const limit = options?.cacheSize ?? 64;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw argumentError("jit", `cacheSize must be a positive integer, got ${show(limit)}`);
  }
  const staticArgnums = options?.staticArgnums ?? [];
  const donateArgnums = options?.donateArgnums ?? [];
  const cache = new Map<string, Program>();
  const traced = f as (...args: unknown[]) => unknown;

  const lookup = (args: Args) => {
    const statics = new Set(argnumList("jit", staticArgnums, args.length));
    const donated = new Set(argnumList("jit", donateArgnums, args.length));
    for (const i of donated) {
      if (statics.has(i))
        throw argumentError("jit", `argument ${i} cannot be both static and donated`);
    }
    const key = signature(args, statics);
    const program = cache.get(key);
    if (program !== undefined) {
      // Most recently used last: the Map's first key is the one to drop.
      cache.delete(key);
      cache.set(key, program);
    }
    return { key, statics, donated, program };
  };
  const remember = (key: string, program: Program) => {
    cache.set(key, program);
    if (cache.size > limit) cache.delete(cache.keys().next().value!);
  };

  /** The program for these arguments: cached, or traced now by running f (with its result). */
  const programFor = (args: Args) => {
    const { key, statics, donated, program } = lookup(args);
    if (program !== undefined) return { statics, donated, program };
    const captured = capture(traced, args, statics, donated);
    if (captured.reusable) remember(key, captured.program);
    return { statics, donated, program: captured.program, captured };
  };
  const call = (...args: Args): R => {
    const { statics, donated, program, captured } = programFor(args);
    let result: unknown;
    if (captured !== undefined) {
      result = captured.result;
    } else {
      const tensors: Tensor[] = [];
      mapArgumentTensors(args, statics, (x) => {
        tensors.push(x);
        return x;
      });
      result = program.run(tensors);
    }
    return retire(args, statics, donated, result) as R;
  };
  const trace = (...args: Args): Program => programFor(args).program;
  return Object.defineProperties(call, {
    trace: { value: trace },
    cacheSize: { get: () => cache.size },
  }) as Jitted<Args, R>;
}

/**
 * `result`, after marking the tensors of the donated arguments as used up (whether or not a
 * result took their buffers this call), except any that the result returns as they are.
 */
function retire(
  args: readonly unknown[],
  statics: ReadonlySet<number>,
  donated: ReadonlySet<number>,
  result: unknown,
): unknown {
  if (donated.size === 0) return result;
  const returned = new Set(tensorsOf(result));
  mapArgumentTensors(args, statics, (x, argnum) => {
    if (donated.has(argnum) && !returned.has(x)) markDonated(x);
    return x;
  });
  return result;
}
