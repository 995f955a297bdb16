// A binarised network trained through a function whose true gradient is zero almost everywhere:
//   1. binarize (binarize.ts): sign in the forward pass, dy·[|x| ≤ 1] in the backward pass,
//      written with customVjp;
//   2. a 2 → H → H → 2 MLP whose hidden activations are ±1 and whose hidden weights are ±1
//      (as in BinaryNet, the first and last layers stay real-valued);
//   3. Adam on the real-valued latent weights, clipped to [−1, 1] after each step, learns two
//      moons; the forward pass only ever uses their signs.
//
//   tsx straightThrough.ts
import { pathToFileURL } from "node:url";
import {
  add,
  grad,
  matmul,
  mul,
  prng,
  sum,
  tensor,
  valueAndGrad,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  accuracy,
  crossEntropy,
  defineLayer,
  init,
  linear,
  optim,
  sequential,
  statelessLayer,
  type Layer,
} from "@tapegrad/nn";
import { binarize, hardtanh } from "./binarize.js";
import { twoMoons } from "@tapegrad/data";

// ── The binarised layers ────────────────────────────────────────────────────────────────────

/** A binary linear layer's params: the latent real weight [out, in] and a real bias [out]. */
export interface BinaryLinearParams {
  readonly weight: Tensor;
  readonly bias: Tensor;
}

/** A function from x to ±1 values with a straight-through gradient: binarize by default. */
export type Binarizer = (x: Tensor) => Tensor;

/**
 * y = (x·sign(W)ᵀ)/√in + b for x [..., in]: the weights used are ±1 while the latent W stays
 * real, so that small updates accumulate until a sign flips. Dividing by √in keeps y near unit
 * scale for ±1 inputs, where the next binarize's mask [|y| ≤ 1] lets gradients through.
 */
export function binaryLinear(
  inFeatures: number,
  outFeatures: number,
  sign: Binarizer = binarize,
): Layer<BinaryLinearParams> {
  const scale = 1 / Math.sqrt(inFeatures);
  return defineLayer<BinaryLinearParams, Record<string, never>>({
    kind: "binaryLinear",
    init: (rng) => ({
      params: {
        weight: init.uniform({ low: -scale, high: scale })(rng, [outFeatures, inFeatures]),
        bias: init.zeros()(rng, [outFeatures]),
      },
      state: {},
    }),
    applyWithState: (params, state, x) => {
      const y = matmul(x, sign(params.weight), { transB: true });
      return [add(mul(y, scale), params.bias), state];
    },
  });
}

/** A binarizer as an nn layer: no params, ±1 out, its straight-through gradient back. */
export const binarizeLayer = (sign: Binarizer = binarize) =>
  statelessLayer("binarize", (x) => sign(x));

/**
 * The binarised MLP's layers, by name: block1 (real linear 2 → H, sign), block2 (binary linear
 * H → H, sign), out (real linear H → 2). Both blocks output ±1 only. `sign` is binarize unless
 * another formulation of the same estimator is to be compared with it.
 */
export function binaryMlpLayers(hidden = 32, sign: Binarizer = binarize) {
  return {
    block1: sequential({
      linear: linear({ inFeatures: 2, outFeatures: hidden }),
      sign: binarizeLayer(sign),
    }),
    block2: sequential({
      linear: binaryLinear(hidden, hidden, sign),
      sign: binarizeLayer(sign),
    }),
    out: linear({ inFeatures: hidden, outFeatures: 2 }),
  };
}

/** The binarised MLP as one layer: block1, block2, out in order. */
export function binaryMlp(hidden = 32, sign: Binarizer = binarize) {
  return sequential(binaryMlpLayers(hidden, sign));
}

/** The params of binaryMlp. */
export type BinaryMlpParams = ReturnType<ReturnType<typeof binaryMlp>["init"]>["params"];

/** BinaryNet's clip of the latent binary weights to [−1, 1]: beyond it the mask is shut. */
function clipLatentWeights(params: BinaryMlpParams): BinaryMlpParams {
  const { linear: binary, ...rest } = params.block2;
  const clipped = { ...binary, weight: hardtanh(binary.weight) };
  return { ...params, block2: { ...rest, linear: clipped } };
}

// ── Training ────────────────────────────────────────────────────────────────────────────────

/** trainBinaryMlp's settings; every field is optional (300 steps, 512 points, H = 32, lr 0.01). */
export interface TrainOptions {
  readonly steps?: number;
  readonly points?: number;
  readonly hidden?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

/** The first and last training loss, both accuracies, and what they were measured with. */
export interface TrainResult {
  readonly firstLoss: number;
  readonly finalLoss: number;
  readonly trainAccuracy: number;
  readonly testAccuracy: number;
  /** The trained params, to inspect (the hidden activations, the weights' signs). */
  readonly params: BinaryMlpParams;
  /** The held-out points and labels the test accuracy was measured on. */
  readonly test: { readonly x: Tensor; readonly y: Tensor };
}

/** Full-batch Adam on `points` two-moons samples; accuracy on as many fresh test points. */
export function trainBinaryMlp(options: TrainOptions = {}): TrainResult {
  const { steps = 300, points = 512, hidden = 32, lr = 0.01, seed = 0 } = options;
  const { log = () => {} } = options;
  const rng = prng(seed);
  const train = twoMoons(points, rng.split());
  const test = twoMoons(points, rng.split());
  const model = binaryMlp(hidden);
  let { params } = model.init(rng.split());
  const optimizer = optim.adam({ lr });
  let optState = optimizer.init(params);
  const lossAndGrad = valueAndGrad((p: BinaryMlpParams) =>
    crossEntropy(model.apply(p, train.x), train.y),
  );
  let firstLoss = NaN;
  let finalLoss = NaN;
  for (let step = 1; step <= steps; step++) {
    const [loss, grads] = lossAndGrad(params);
    [params, optState] = optimizer.update(grads, optState, params);
    params = clipLatentWeights(params);
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
    params,
    test,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const x = tensor([-2, -1, -0.5, 0, 0.5, 1, 2], { dtype: "float64" });
  console.log("1. binarize: sign forward, clipped straight-through backward");
  console.log(`  x              = ${fmt(x)}`);
  console.log(`  binarize(x)    = ${fmt(binarize(x))}`);
  console.log(`  d Σbinarize/dx = ${fmt(grad((v: Tensor) => sum(binarize(v)))(x))}`);

  console.log("2-3. a 2 → 32 → 32 → 2 MLP, ±1 activations and ±1 hidden weights, on two moons");
  const start = performance.now();
  const r = trainBinaryMlp({ log: console.log });
  console.log(
    `  train accuracy ${pct(r.trainAccuracy)}, test accuracy ${pct(r.testAccuracy)} ` +
      `(${((performance.now() - start) / 1000).toFixed(1)} s)`,
  );
}

function fmt(t: Tensor): string {
  return `[${Array.from(t.data, (v) => v.toFixed(1).padStart(4)).join(", ")}]`;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
