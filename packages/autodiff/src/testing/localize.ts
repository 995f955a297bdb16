import { keepCallSites, userFrames } from "../anomaly.js";
import { isFloat } from "../dtype.js";
import { jvp } from "../forward.js";
import { prng, type Rng } from "../random.js";
import { getOp } from "../registry.js";
import { inputName } from "../errors.js";
import { hasOneOutput, type TapeNode, type Trace } from "../tape.js";
import { Tensor, zerosLike } from "../tensor.js";
import { record, vjp } from "../transforms.js";
import { treeMap } from "../tree.js";
import type { FaultyOp } from "./mismatch.js";
import { dot, floatLeaves, pointsAlong, shifted, signsLike, toFloat64 } from "./probes.js";
import { roundingSize } from "./rounding.js";
import { floor, within, type Tolerances } from "./tolerance.js";

// When a function's derivative is wrong, which op's rule is to blame? The tape of the checked
// function holds every op application with its own inputs. Recording it again at the points the
// failed comparison moved to, x ± eps·d, shows how far each op's inputs moved: u = Δinput / 2eps.
// Each op is then checked on its own, at its recorded inputs, along that movement u: its vjp's
// ⟨vjp(c), u⟩ (and its jvp's ⟨J·u, c⟩) against the finite difference of ⟨op(input + h·u), c⟩.
// Checking along the function's own movement, rather than one element at a time, leaves alone
// the inputs that did not move: a max-pooling window of zeros after a relu is a tie, but nothing
// moves it. For second derivatives the function checked per op is its vjp rule, (inputs) ↦
// vjp(dy) at a fixed random dy: a rule that is right but computes off the tape shows there.

/** What the search checks, and with which step and tolerances: the failed check's own. */
export interface SearchSettings extends Tolerances {
  readonly eps: number;
  readonly seed: number;
  /** 1: each op's vjp and jvp; 2: the derivative of each op's vjp rule. */
  readonly order: 1 | 2;
}

/**
 * The ops on f's tape whose own rules disagree with finite differences along the movement that
 * `direction` (a tree like `primals`) causes, first applied first; or the reason no search was
 * possible. Only ops whose output reaches f's output are checked.
 */
export function findFaultyOps(
  f: (...args: unknown[]) => unknown,
  primals: readonly unknown[],
  direction: readonly unknown[],
  settings: SearchSettings,
): FaultyOp[] | string {
  const { eps } = settings;
  const moved = (scale: number) =>
    primals.map((p, a) =>
      treeMap(
        (leaf: unknown, d: unknown) =>
          leaf instanceof Tensor && isFloat(leaf.dtype) && d instanceof Tensor
            ? shifted(leaf, d.buffer, scale)
            : leaf,
        p,
        direction[a],
      ),
    );
  const [base, plus, minus] = keepCallSites(() => [
    record(f, [...primals]),
    record(f, moved(eps)),
    record(f, moved(-eps)),
  ]);
  const nodes = base.trace.nodes;
  const differs = (other: Trace) =>
    other.nodes.length !== nodes.length || other.nodes.some((node, k) => node.op !== nodes[k]!.op);
  if (differs(plus.trace) || differs(minus.trace)) {
    return "f applies different ops at the perturbed points: its control flow depends on values";
  }
  const used = reachingOutput(base.trace, base.out);
  const rng = prng(settings.seed);
  const found: FaultyOp[] = [];
  nodes.forEach((node, k) => {
    if (!used.has(node)) return;
    const movements = node.inputs.map((x, j) => {
      if (x.trace !== base.trace) return undefined;
      const after = plus.trace.nodes[k]!.innerInputs[j]!.buffer;
      const before = minus.trace.nodes[k]!.innerInputs[j]!.buffer;
      // An infinite input (−Infinity in a mask) stays where it is: 0, not ∞ − ∞.
      return Float64Array.from(after, (v, i) =>
        v === before[i] ? 0 : (v - before[i]!) / (2 * eps),
      );
    });
    for (const blame of checkNode(node, movements, settings, rng)) {
      found.push({ ...blame, position: k + 1 });
    }
  });
  return found;
}

/** The recorded ops whose output flows into `out`. */
function reachingOutput(trace: Trace, out: unknown): Set<TapeNode> {
  const used = new Set<TapeNode>();
  for (const [, y] of floatLeaves(out)) {
    if (y.trace === trace && y.node !== null) used.add(y.node);
  }
  for (let k = trace.nodes.length - 1; k >= 0; k--) {
    const node = trace.nodes[k]!;
    if (!used.has(node)) continue;
    for (const x of node.inputs) {
      if (x.trace === trace && x.node !== null) used.add(x.node);
    }
  }
  return used;
}

type Blame = Omit<FaultyOp, "position">;

/**
 * Op `node` applied alone to float64 copies of its recorded inputs, checked along the movement
 * of each input that moved (scaled so that its largest entry is 1). For order 2 the function
 * checked is its vjp rule (inputs, dy) ↦ vjp(dy), also along a random ±1 movement of dy.
 */
function checkNode(
  node: TapeNode,
  movements: readonly (Float64Array | undefined)[],
  settings: SearchSettings,
  rng: Rng,
): Blame[] {
  const inputs = node.innerInputs.map((x) => toFloat64(x) as Tensor);
  const op = getOp(node.op.name)!;
  const apply = (...xs: Tensor[]) => op.apply(xs, node.attrs);
  const site = node.site === undefined ? "" : userFrames(node.site);
  const blames: Blame[] = [];
  const check = (
    fn: (...xs: Tensor[]) => unknown,
    at: Tensor[],
    j: number,
    u: Tensor,
    input: string,
  ) => {
    const verdict = checkAlong(fn, at, j, u, settings, node.op.tolerance ?? {}, rng);
    if (verdict !== undefined) blames.push({ op: node.op.name, input, site, ...verdict });
  };
  const moved = movements.flatMap((movement, j) => {
    const scale = movement?.reduce((m, v) => Math.max(m, Math.abs(v)), 0) ?? 0;
    if (scale === 0) return [];
    const u = new Tensor(
      movement!.map((v) => v / scale),
      inputs[j]!.shape,
    );
    return [{ j, u, input: inputName(node.op, j) }];
  });
  if (settings.order === 1) {
    for (const { j, u, input } of moved) check(apply, inputs, j, u, input);
    return blames;
  }
  // One random cotangent per output, each an argument of the rule so that it can move alone.
  const outputs = [apply(...inputs)].flat();
  const dys = outputs.map((y) => signsLike(y, rng) as Tensor);
  const n = inputs.length;
  const rule = (...xs: Tensor[]) => {
    const cotangent = hasOneOutput(node.op) ? xs[n]! : xs.slice(n);
    return vjp(apply, ...xs.slice(0, n))[1](cotangent);
  };
  const at = [...inputs, ...dys];
  for (const { j, u, input } of moved) check(rule, at, j, u, input);
  dys.forEach((dy, k) => {
    const name = hasOneOutput(node.op) ? "dy" : `dy.${node.op.outputs![k]}`;
    check(rule, at, n + k, signsLike(dy, rng), name);
  });
  return blames;
}

/**
 * fn checked at `inputs` along u, a movement of input j: its vjp's ⟨vjp(c), u⟩ (and, when fn
 * is an op, its jvp's ⟨J·u, c⟩) against the central difference of ⟨fn(inputs + h·u), c⟩.
 * Returns the rule that disagrees only where fn is smooth: if the one-sided differences differ
 * by more than the disagreement, a kink or tie lies within eps, and the central difference
 * says nothing about the rule.
 */
function checkAlong(
  fn: (...xs: Tensor[]) => unknown,
  inputs: readonly Tensor[],
  j: number,
  u: Tensor,
  settings: SearchSettings,
  tolerance: { readonly atol?: number; readonly rtol?: number },
  rng: Rng,
): Pick<Blame, "rule" | "analytic" | "numeric"> | undefined {
  const y = fn(...inputs);
  const c = signsWhereFinite(y, rng);
  const { eps } = settings;
  const moved = pointsAlong(inputs[j]!, u.buffer, eps);
  const projected = (x: Tensor) => {
    const xs = [...inputs];
    xs[j] = x;
    return dot(fn(...xs), c);
  };
  const [above, at, below] = [projected(moved.plus), dot(y, c), projected(moved.minus)];
  const numeric = (above - below) / (2 * eps);
  const { atol = settings.atol, rtol = settings.rtol } = tolerance;
  const size = roundingSize(fn as (...args: unknown[]) => unknown, inputs, c);
  const asymmetry = Math.abs(above - 2 * at + below) / eps;
  const wrong = (analytic: number): boolean => {
    const scale = Math.max(Math.abs(analytic), Math.abs(numeric));
    const allowed = floor({ atol, rtol }, scale, size, eps);
    const disagreement = Math.abs(analytic - numeric);
    return !within(allowed.atol, rtol, analytic, numeric) && !(asymmetry >= disagreement);
  };
  const [, pullback] = vjp(fn, ...inputs);
  const byVjp = dot(pullback(c)[j], moved.direction);
  if (wrong(byVjp)) {
    const rule = settings.order === 1 ? "vjp" : "vjp's derivative";
    return { rule, analytic: byVjp, numeric };
  }
  if (settings.order === 2) return undefined;
  // Forward mode transposes each op's vjp: a vjp that is right in value but is no traced
  // linear map of dy (it reads dy's data, say) gives a wrong jvp.
  const tangents = inputs.map((x, i) => (i === j ? moved.direction : zerosLike(x)));
  const byJvp = dot(jvp(fn, [...inputs], tangents)[1], c);
  return wrong(byJvp) ? { rule: "jvp", analytic: byJvp, numeric } : undefined;
}

/**
 * Random ±1 entries where y is finite, 0 where it is not: an op's output may hold −Infinity (a
 * mask added to attention scores) that nothing downstream depends on, and that no finite
 * difference can measure.
 */
function signsWhereFinite<T>(y: T, rng: Rng): T {
  return treeMap(
    (c: unknown, value: unknown) => {
      if (!(c instanceof Tensor) || !(value instanceof Tensor)) return c;
      const v = value.buffer;
      return new Tensor(
        c.buffer.map((s, i) => (Number.isFinite(v[i]!) ? s : 0)),
        c.shape,
      );
    },
    signsLike(y, rng),
    y,
  );
}
