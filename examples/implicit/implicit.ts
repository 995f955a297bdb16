// A deep equilibrium layer trained on two moons, differentiated two ways:
//   1. implicitly (fixedPoint.ts): the fixed point is solved with no tape, and its vjp solves
//      u = Jᵀu + ḡ: the tape holds one node for the layer, whatever the iteration count;
//   2. unrolled: K steps of the map, each on the tape, differentiated as any loop.
// It checks that the two gradients agree, then trains the implicit model and measures what
// each way costs in step time and in memory held by the tape.
//
//   tsx implicit.ts [--steps 200] [--unrolled 30]
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  argumentError,
  cast,
  grad,
  prng,
  profileTape,
  treeLeaves,
  valueAndGrad,
  type Tensor,
} from "@tapegrad/autodiff";
import { twoMoons } from "@tapegrad/data";
import { accuracy, crossEntropy, linear, optim, type LinearParams } from "@tapegrad/nn";
import { equilibriumLayer, type EquilibriumParams } from "./fixedPoint.js";

/** The model's params: the equilibrium layer (2 → hidden) and a linear readout (hidden → 2). */
export interface ModelParams {
  readonly layer: EquilibriumParams;
  readonly readout: LinearParams;
}

/** Iteration counts of every solve, by phase. */
export interface SolveCounts {
  readonly forward: number[];
  readonly backward: number[];
}

/**
 * The two-moons classifier: x [N, 2] ↦ logits [N, 2] through the fixed point, and the counts
 * its solves report. `unrolled: K` differentiates K plain steps instead.
 */
export function equilibriumModel(hidden: number, tolerance?: number) {
  const counts: SolveCounts = { forward: [], backward: [] };
  const layer = equilibriumLayer({
    inFeatures: 2,
    hidden,
    dtype: "float64",
    tolerance,
    onSolve: (phase, n) => counts[phase].push(n),
  });
  const readout = linear({ inFeatures: hidden, outFeatures: 2, dtype: "float64" });
  return {
    counts,
    init: (seed: number): ModelParams => {
      const rng = prng(seed);
      return { layer: layer.init(rng.split()), readout: readout.init(rng.split()).params };
    },
    apply: (p: ModelParams, x: Tensor, mode: { unrolled?: number } = {}) =>
      readout.apply(p.readout, layer.apply(p.layer, x, mode)),
  };
}

/** trainEquilibrium's settings; every field is optional. */
export interface TrainOptions {
  /** Full-batch Adam steps (default 200). */
  readonly steps?: number;
  /** Training points, and as many test points (default 512). */
  readonly points?: number;
  /** Width of the fixed point (default 16). */
  readonly hidden?: number;
  /** Adam's learning rate (default 0.02). */
  readonly lr?: number;
  readonly seed?: number;
  /** Train through K unrolled steps instead of the implicit gradient. */
  readonly unrolled?: number;
  readonly log?: (line: string) => void;
}

/** The first and last loss, both accuracies, the solves' iteration counts and the step times. */
export interface TrainResult {
  readonly firstLoss: number;
  readonly finalLoss: number;
  readonly trainAccuracy: number;
  readonly testAccuracy: number;
  /** Iterations of each forward and backward solve during training (empty when unrolled). */
  readonly counts: SolveCounts;
  /** Milliseconds of each step (loss, gradient and update). */
  readonly stepMs: readonly number[];
}

/** Full-batch Adam on two moons (float64), through the implicit layer or K unrolled steps. */
export function trainEquilibrium(options: TrainOptions = {}): TrainResult {
  const { steps = 200, points = 512, hidden = 16, lr = 0.02, seed = 0, unrolled } = options;
  const { log = () => {} } = options;
  const rng = prng(seed);
  const train = moons(points, rng.split());
  const test = moons(points, rng.split());
  const model = equilibriumModel(hidden);
  let params = model.init(seed);
  const optimizer = optim.adam({ lr });
  let state = optimizer.init(params);
  const lossAndGrad = valueAndGrad((p: ModelParams) =>
    crossEntropy(model.apply(p, train.x, { unrolled }), train.y),
  );
  let firstLoss = NaN;
  let finalLoss = NaN;
  const stepMs: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const start = performance.now();
    const [loss, grads] = lossAndGrad(params);
    [params, state] = optimizer.update(grads, state, params);
    stepMs.push(performance.now() - start);
    if (step === 1) firstLoss = loss.item();
    finalLoss = loss.item();
    if (step === 1 || step % 50 === 0) {
      log(`  step ${String(step).padStart(3)}: loss ${loss.item().toFixed(4)}`);
    }
  }
  // Count only training's solves, not those of the accuracy passes below.
  const counts = { forward: [...model.counts.forward], backward: [...model.counts.backward] };
  return {
    firstLoss,
    finalLoss,
    trainAccuracy: accuracy(model.apply(params, train.x), train.y),
    testAccuracy: accuracy(model.apply(params, test.x), test.y),
    counts,
    stepMs,
  };
}

/** Two moons in float64, the dtype the gradient comparisons need. */
export function moons(n: number, rng: ReturnType<typeof prng>) {
  const { x, y } = twoMoons(n, rng);
  return { x: cast(x, "float64"), y };
}

/** The largest |a − b| over the leaves of two trees of tensors of the same structure. */
export function maxDifference(a: unknown, b: unknown): number {
  const others = treeLeaves(b) as Tensor[];
  let largest = 0;
  (treeLeaves(a) as Tensor[]).forEach((leaf, k) => {
    const [x, y] = [leaf.data, others[k]!.data];
    for (let j = 0; j < x.length; j++) largest = Math.max(largest, Math.abs(x[j]! - y[j]!));
  });
  return largest;
}

/**
 * The most bytes the tapes hold at once while f is differentiated at args (`profileTape`): the
 * forward's tape and, during backward, whatever the vjp records besides.
 */
export function tapeBytes<Args extends unknown[]>(
  f: (...args: Args) => Tensor,
  args: Args,
): number {
  return profileTape(() => grad(f)(...args)).peakBytes;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw argumentError("implicit", `--${name} must be a positive integer, got ${text}`);
  }
  return value;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const range = (v: readonly number[]) =>
  `${Math.min(...v)}–${Math.max(...v)} (mean ${(v.reduce((s, x) => s + x, 0) / v.length).toFixed(1)})`;

const HELP = `Usage: tsx implicit.ts [options]

Compares the implicit gradient of a fixed-point layer with unrolled differentiation, measures the
memory each holds on the tape, and trains the layer on two moons.

Options:
  --steps N      full-batch Adam steps of each training (default 200)
  --unrolled K   unrolled steps to compare with (default 30; the memory table also uses 2K)
  --help         show this text`;

function main(): void {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== "--"),
    options: {
      steps: { type: "string", default: "200" },
      unrolled: { type: "string", default: "30" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const steps = positiveInt("steps", values.steps);
  const unrolled = positiveInt("unrolled", values.unrolled);

  console.log("1. implicit vs unrolled gradient of the loss, at the initial params");
  const model = equilibriumModel(16, 1e-13);
  const params = model.init(0);
  const data = moons(512, prng(1));
  const lossOf = (mode: { unrolled?: number }) => (p: ModelParams) =>
    crossEntropy(model.apply(p, data.x, mode), data.y);
  const [, implicitGrads] = valueAndGrad(lossOf({}))(params);
  console.log(
    `  (forward solve: ${model.counts.forward.at(-1)} iterations, ` +
      `backward solve: ${model.counts.backward.at(-1)})`,
  );
  for (const k of [5, 10, 20, 40, 80]) {
    const [, unrolledGrads] = valueAndGrad(lossOf({ unrolled: k }))(params);
    const diff = maxDifference(implicitGrads, unrolledGrads);
    console.log(
      `  K = ${String(k).padStart(2)} unrolled steps: max |Δgrad| ${diff.toExponential(2)}`,
    );
  }

  const big = moons(4096, prng(2));
  const bigLoss = (mode: { unrolled?: number }) => (p: ModelParams) =>
    crossEntropy(model.apply(p, big.x, mode), big.y);
  console.log(
    `2. bytes the tapes hold at their peak (profileTape; grad of the loss on 4,096 points, float64)`,
  );
  console.log(`  implicit:           ${mib(tapeBytes(bigLoss({}), [params]))}`);
  for (const k of [unrolled, 2 * unrolled]) {
    const bytes = tapeBytes(bigLoss({ unrolled: k }), [params]);
    console.log(`  unrolled, K = ${String(k).padEnd(4)}: ${mib(bytes)}`);
  }

  console.log(`3. training on two moons (${steps} full-batch Adam steps, 512 points), implicit`);
  const r = trainEquilibrium({ steps, log: console.log });
  console.log(`  train accuracy ${pct(r.trainAccuracy)}, test accuracy ${pct(r.testAccuracy)}`);
  console.log(`  forward solve iterations per step:  ${range(r.counts.forward)}`);
  console.log(`  backward solve iterations per step: ${range(r.counts.backward)}`);
  console.log(`  median step ${median(r.stepMs).toFixed(2)} ms`);
  console.log(`4. the same training through K = ${unrolled} unrolled steps`);
  const u = trainEquilibrium({ steps, unrolled });
  console.log(`  train accuracy ${pct(u.trainAccuracy)}, test accuracy ${pct(u.testAccuracy)}`);
  console.log(`  median step ${median(u.stepMs).toFixed(2)} ms`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
