// A new differentiable op in three steps:
//   1. define it: swish (SiLU), y = x·σ(x), with defineOp — forward, vjp and samples side by side
//      (swish.ts);
//   2. verify it: checkGrads against finite differences (first and second order), and the
//      fast-check property checkOpGradients on the op's own samples;
//   3. use it: an MLP with swish activations learns the two-moons classification.
//
//   tsx customOp.ts
import { pathToFileURL } from "node:url";
import {
  checkGrads,
  getOp,
  grad,
  prng,
  sum,
  tensor,
  valueAndGrad,
  type CheckGradsReport,
  type Tensor,
} from "@tapegrad/autodiff";
import { checkOpGradients } from "@tapegrad/autodiff/testing";
import { accuracy, crossEntropy, linear, optim, sequential, statelessLayer } from "@tapegrad/nn";
import { twoMoons } from "@tapegrad/data";
import { swish } from "./swish.js";

// ── Step 2: verify ──────────────────────────────────────────────────────────────────────────

export interface Verification {
  /** Reverse-mode gradient of swish against central differences, at fixed points. */
  readonly firstOrder: CheckGradsReport;
  /** The same for the gradient of Σ swish(x): checks that the vjp itself differentiates. */
  readonly secondOrder: CheckGradsReport;
  /** Cases the fast-check property ran (it throws on the first failure, shrunk). */
  readonly propertyRuns: number;
}

/** Runs all three checks; each throws a TapegradError naming the element that disagrees. */
export function verifySwish(numRuns = 100, seed = 1): Verification {
  const x = tensor([-4, -2.5, -1, -0.3, 0, 0.4, 1, 2, 3.5], { dtype: "float64" });
  const firstOrder = checkGrads(swish, [x]);
  const secondOrder = checkGrads(
    grad((v: Tensor) => sum(swish(v))),
    [x],
  );
  // The op as the registry holds it: what the registry-wide property suite would check.
  const registered = getOp("swish");
  if (registered === undefined) throw new Error("swish is not registered");
  checkOpGradients(registered, { numRuns, seed });
  return { firstOrder, secondOrder, propertyRuns: numRuns };
}

// ── Step 3: use ─────────────────────────────────────────────────────────────────────────────

/** swish as an nn layer: no params, no state, just the op. */
export const swishLayer = () => statelessLayer("swish", (x) => swish(x));

export function swishMlp(hidden = 16) {
  return sequential({
    fc1: linear({ inFeatures: 2, outFeatures: hidden }),
    act1: swishLayer(),
    fc2: linear({ inFeatures: hidden, outFeatures: hidden }),
    act2: swishLayer(),
    out: linear({ inFeatures: hidden, outFeatures: 2 }),
  });
}

export interface TrainOptions {
  readonly steps?: number;
  readonly points?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface TrainResult {
  readonly firstLoss: number;
  readonly finalLoss: number;
  readonly trainAccuracy: number;
  readonly testAccuracy: number;
}

/** Full-batch Adam on `points` two-moons samples; accuracy on as many fresh test points. */
export function trainSwishMlp(options: TrainOptions = {}): TrainResult {
  const { steps = 300, points = 512, lr = 0.02, seed = 0, log = () => {} } = options;
  const rng = prng(seed);
  const train = twoMoons(points, rng.split());
  const test = twoMoons(points, rng.split());
  const model = swishMlp();
  let { params } = model.init(rng.split());
  const optimizer = optim.adam({ lr });
  let optState = optimizer.init(params);
  const lossAndGrad = valueAndGrad((p: typeof params) =>
    crossEntropy(model.apply(p, train.x), train.y),
  );
  let firstLoss = NaN;
  let finalLoss = NaN;
  for (let step = 1; step <= steps; step++) {
    const [loss, grads] = lossAndGrad(params);
    [params, optState] = optimizer.update(grads, optState, params);
    if (step === 1) firstLoss = loss.item();
    finalLoss = loss.item();
    if (step === 1 || step % 50 === 0)
      log(`  step ${String(step).padStart(3)}: loss ${loss.item().toFixed(4)}`);
  }
  return {
    firstLoss,
    finalLoss,
    trainAccuracy: accuracy(model.apply(params, train.x), train.y),
    testAccuracy: accuracy(model.apply(params, test.x), test.y),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const x = tensor([-2, -1, 0, 1, 2], { dtype: "float64" });
  const dx = grad((v: Tensor) => sum(swish(v)))(x);
  console.log("1. define: swish(x) = x·σ(x), a registered op with its own vjp");
  console.log(`  x         = ${fmt(x)}`);
  console.log(`  swish(x)  = ${fmt(swish(x))}`);
  console.log(`  swish'(x) = ${fmt(dx)}`);

  console.log("2. verify against central finite differences (float64)");
  const v = verifySwish();
  console.log(
    `  checkGrads, first order:  ${v.firstOrder.checked} partials, max |error| ` +
      v.firstOrder.maxAbsError.toExponential(1),
  );
  console.log(
    `  checkGrads, second order: ${v.secondOrder.checked} partials, max |error| ` +
      v.secondOrder.maxAbsError.toExponential(1),
  );
  console.log(
    `  checkOpGradients (fast-check, the op's own samples): ${v.propertyRuns} cases passed`,
  );

  console.log("3. use: a 2 → 16 → 16 → 2 MLP with swish activations on two moons");
  const start = performance.now();
  const r = trainSwishMlp({ log: console.log });
  console.log(
    `  train accuracy ${pct(r.trainAccuracy)}, test accuracy ${pct(r.testAccuracy)} ` +
      `(${((performance.now() - start) / 1000).toFixed(1)} s)`,
  );
}

function fmt(t: Tensor): string {
  return `[${Array.from(t.data, (v) => v.toFixed(4).padStart(7)).join(", ")}]`;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
