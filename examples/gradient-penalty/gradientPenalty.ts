// A WGAN-GP critic: a small convolutional D learns to tell "real" 8×8 images (a bright
// horizontal bar) from "fake" ones (a vertical bar) while a gradient penalty keeps it
// 1-Lipschitz. The penalty λ·(‖∇ₓD(x̂)‖ − 1)² is itself a function of a gradient, so training on
// it differentiates a gradient: grad over the critic's params of a function that calls grad over
// the images. Nothing special is needed — vjp rules are written with ops, so the inner backward
// pass is recorded by the outer grad like any other computation.
//
//   tsx gradientPenalty.ts [--steps N]
import { pathToFileURL } from "node:url";
import {
  add,
  grad,
  mean,
  mul,
  prng,
  sqrt,
  square,
  sub,
  sum,
  tensor,
  valueAndGrad,
  type Rng,
  type Tensor,
} from "@tapegrad/autodiff";
import { conv2d, flatten, leakyRelu, linear, optim, sequential } from "@tapegrad/nn";

const SIZE = 8;

/** conv 3×3 (1→4) → leakyRelu → conv 3×3 stride 2 (4→8) → leakyRelu → flatten → linear → D(x). */
export function critic(dtype: "float32" | "float64" = "float32") {
  return sequential({
    conv1: conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1, dtype }),
    act1: leakyRelu(0.2),
    conv2: conv2d({ inChannels: 4, outChannels: 8, kernelSize: 3, stride: 2, padding: 1, dtype }),
    act2: leakyRelu(0.2),
    flatten: flatten(),
    out: linear({ inFeatures: 8 * (SIZE / 2) ** 2, outFeatures: 1, dtype }),
  });
}

export type Critic = ReturnType<typeof critic>;
export type CriticParams = ReturnType<Critic["init"]>["params"];

/** n images [n, 1, 8, 8]: a bar of 1s (a row if horizontal, else a column) plus N(0, 0.1²) noise. */
export function bars(rng: Rng, n: number, horizontal: boolean): Tensor {
  const noise = rng.normal([n, 1, SIZE, SIZE], { std: 0.1 }).data;
  const values = Float32Array.from(noise);
  for (let i = 0; i < n; i++) {
    const line = Math.floor(rng.nextDouble() * SIZE);
    for (let k = 0; k < SIZE; k++) {
      const [r, c] = horizontal ? [line, k] : [k, line];
      values[i * SIZE * SIZE + r * SIZE + c]! += 1;
    }
  }
  return tensor(values, { shape: [n, 1, SIZE, SIZE] });
}

/** ‖∇ₓD(xᵢ)‖ for each image: D scores images independently, so ∇ₓ Σᵢ D(xᵢ) holds them all. */
export function gradientNorms(model: Critic, params: CriticParams, x: Tensor): Tensor {
  const gx = grad((z: Tensor) => sum(model.apply(params, z)))(x);
  // A tiny floor keeps √ differentiable where a gradient vanishes.
  return sqrt(add(sum(square(gx), { axis: [1, 2, 3] }), 1e-12));
}

/** mean over the batch of (‖∇ₓD(x̂ᵢ)‖ − 1)², x̂ᵢ = tᵢ·realᵢ + (1 − tᵢ)·fakeᵢ, tᵢ ~ U(0, 1). */
export function gradientPenalty(
  model: Critic,
  params: CriticParams,
  real: Tensor,
  fake: Tensor,
  t: Tensor,
): Tensor {
  const mixed = add(mul(t, real), mul(sub(1, t), fake));
  return mean(square(sub(gradientNorms(model, params, mixed), 1)));
}

export interface TrainOptions {
  readonly steps?: number;
  readonly batch?: number;
  /** Weight λ of the penalty (default 10, as in the WGAN-GP paper). */
  readonly lambda?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly logEvery?: number;
  readonly log?: (line: string) => void;
}

export interface TrainRecord {
  readonly step: number;
  /** mean D(real) − mean D(fake): the critic's estimate of the Wasserstein distance. */
  readonly wasserstein: number;
  /** The penalty term before λ. */
  readonly penalty: number;
}

/** Trains the critic with Adam on loss = mean D(fake) − mean D(real) + λ·penalty. */
export function trainCritic(options: TrainOptions = {}): TrainRecord[] {
  const { steps = 200, batch = 16, lambda = 10, lr = 2e-3, seed = 0, logEvery = 20 } = options;
  const log = options.log ?? (() => {});
  const rng = prng(seed);
  const model = critic();
  let { params } = model.init(rng.split());
  const optimizer = optim.adam({ lr, betas: [0.5, 0.9] });
  let state = optimizer.init(params);
  const records: TrainRecord[] = [];
  for (let step = 1; step <= steps; step++) {
    const real = bars(rng, batch, true);
    const fake = bars(rng, batch, false);
    const t = rng.uniform([batch, 1, 1, 1]);
    const loss = (p: CriticParams): [Tensor, [Tensor, Tensor]] => {
      const wasserstein = sub(mean(model.apply(p, real)), mean(model.apply(p, fake)));
      const penalty = gradientPenalty(model, p, real, fake, t);
      return [add(mul(wasserstein, -1), mul(penalty, lambda)), [wasserstein, penalty]];
    };
    const [[, [wasserstein, penalty]], grads] = valueAndGrad(loss, { hasAux: true })(params);
    [params, state] = optimizer.update(grads, state, params);
    if (step === 1 || step % logEvery === 0) {
      const record = { step, wasserstein: wasserstein.item(), penalty: penalty.item() };
      records.push(record);
      log(
        `step ${String(step).padStart(4)}: W ≈ ${record.wasserstein.toFixed(4).padStart(8)}, ` +
          `penalty ${record.penalty.toFixed(5)}`,
      );
    }
  }
  return records;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--steps");
  const steps = at >= 0 ? Number(argv[at + 1]) : 200;
  const start = performance.now();
  const records = trainCritic({ steps, log: console.log });
  const first = records[0]!;
  const last = records[records.length - 1]!;
  console.log(
    `\npenalty ${first.penalty.toFixed(5)} → ${last.penalty.toFixed(5)}, ` +
      `W ${first.wasserstein.toFixed(4)} → ${last.wasserstein.toFixed(4)} ` +
      `(${steps} steps in ${((performance.now() - start) / 1000).toFixed(1)} s)`,
  );
}
