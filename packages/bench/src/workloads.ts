import { prng, type Tensor } from "@tapegrad/autodiff";
import type { Layer } from "@tapegrad/nn";
import { lenet } from "@tapegrad/train";

/**
 * The workloads every peer runs, float32, in tapegrad's NCHW layout (peers that only take NHWC
 * get the same values transposed: same data, same FLOPs), and their deterministic inputs.
 */

/** One convolution, stride 1, square kernel, symmetric zero padding, bias included. */
export interface ConvCase {
  readonly n: number;
  readonly cin: number;
  readonly cout: number;
  /** Input height = width. */
  readonly size: number;
  /** Kernel height = width. */
  readonly k: number;
  readonly padding: number;
}

export interface ConvWorkload {
  readonly kind: "conv";
  readonly spec: ConvCase;
  /** fwd: conv + bias; fwd+bwd: that plus the gradients w.r.t. input, weight and bias. */
  readonly pass: "fwd" | "fwd+bwd";
}

/** 2×2 stride-2 pooling, forward plus the input gradient for a fixed cotangent. */
export interface PoolWorkload {
  readonly kind: "pool";
  readonly op: "max" | "avg";
  readonly n: number;
  readonly c: number;
  readonly size: number;
}

/** A square n×n·n×n product. */
export interface MatmulWorkload {
  readonly kind: "matmul";
  readonly n: number;
}

/**
 * One LeNet-5 training step (the model `pnpm train` trains): forward, mean softmax
 * cross-entropy, backward, and a plain SGD update of every parameter.
 */
export interface LenetWorkload {
  readonly kind: "lenet";
  readonly n: number;
}

/**
 * Gradients of LeNet-5's loss (the LeNet step's model, params, data and loss) for a batch of n
 * examples: `batched`, one gradient of the mean loss over the batch (the baseline); `vmap`,
 * `vmap(grad(loss))` over the examples, each reshaped to [1, 1, 28, 28] inside; `loop`, one
 * `grad` call per example. The last two give the same n per-example gradients.
 */
export interface PerExampleWorkload {
  readonly kind: "perExample";
  readonly n: number;
  readonly method: "batched" | "vmap" | "loop";
}

/**
 * The n×n Hessian of f(x) = Σ tanh(W·x), W n×n: `hessian` (one batched forward-over-reverse
 * pass), or `hvp loop`, n hvp calls with one-hot tangents (row i = H·e_i), the per-element
 * baseline.
 */
export interface HessianWorkload {
  readonly kind: "hessian";
  readonly n: number;
  readonly method: "hessian" | "hvp loop";
}

export type Workload =
  | ConvWorkload
  | PoolWorkload
  | MatmulWorkload
  | LenetWorkload
  | PerExampleWorkload
  | HessianWorkload;

/** The learning rate of the LeNet step's SGD update (the same for every peer). */
export const LENET_LR = 0.05;

/** Images per Fashion-MNIST training epoch, for the implied seconds per epoch. */
export const EPOCH_IMAGES = 60_000;

const convCases: readonly ConvCase[] = [
  { n: 64, cin: 1, cout: 6, size: 28, k: 5, padding: 0 },
  { n: 64, cin: 6, cout: 16, size: 12, k: 5, padding: 0 },
  { n: 32, cin: 32, cout: 64, size: 32, k: 3, padding: 1 },
];

export const workloads: readonly Workload[] = [
  ...convCases.flatMap((spec) =>
    (["fwd", "fwd+bwd"] as const).map((pass): ConvWorkload => ({ kind: "conv", spec, pass })),
  ),
  { kind: "pool", op: "max", n: 64, c: 16, size: 24 },
  { kind: "pool", op: "avg", n: 64, c: 16, size: 24 },
  { kind: "matmul", n: 512 },
  { kind: "matmul", n: 1024 },
  { kind: "lenet", n: 64 },
  ...(["batched", "vmap", "loop"] as const).map((method): PerExampleWorkload => ({
    kind: "perExample",
    n: 64,
    method,
  })),
  ...(["hessian", "hvp loop"] as const).map((method): HessianWorkload => ({
    kind: "hessian",
    n: 100,
    method,
  })),
];

/** Output height = width of a convolution. */
export function convOutSize(spec: ConvCase): number {
  return spec.size + 2 * spec.padding - spec.k + 1;
}

/** The batch size, or undefined for matmul and the Hessian. */
export function batchOf(w: Workload): number | undefined {
  switch (w.kind) {
    case "conv":
      return w.spec.n;
    case "pool":
    case "lenet":
    case "perExample":
      return w.n;
    case "matmul":
    case "hessian":
      return undefined;
  }
}

/**
 * Whether a slow cell may be timed on a smaller batch and scaled linearly: kernels whose cost is
 * proportional to the batch (conv, pool). Never the LeNet step, whose fixed per-step costs
 * (parameter gradients and updates, op dispatch) would be multiplied too.
 */
export function isScalable(w: Workload): boolean {
  return w.kind === "conv" || w.kind === "pool";
}

/**
 * Floating-point operations of one call, for GFLOP/s: a convolution's forward pass counts
 * 2·N·Cout·Hout·Wout·Cin·kh·kw (bias ignored) and fwd+bwd 3× that (the input and weight
 * gradients cost one forward each); a matmul 2n³. Undefined where GFLOP/s would mislead (pooling
 * moves memory; the LeNet step is reported per step and per epoch).
 */
export function flopsOf(w: Workload): number | undefined {
  if (w.kind === "matmul") return 2 * w.n ** 3;
  if (w.kind !== "conv") return undefined;
  const { spec } = w;
  const out = convOutSize(spec);
  const forward = 2 * spec.n * spec.cout * out * out * spec.cin * spec.k * spec.k;
  return w.pass === "fwd" ? forward : 3 * forward;
}

/** A short name for tables: `conv 64×1×28×28→6 k5`, `maxPool 2×2 64×16×24×24`, … */
export function workloadName(w: Workload): string {
  switch (w.kind) {
    case "conv": {
      const s = w.spec;
      const pad = s.padding > 0 ? ` p${s.padding}` : "";
      return `conv ${s.n}×${s.cin}×${s.size}×${s.size}→${s.cout} k${s.k}${pad}`;
    }
    case "pool":
      return `${w.op}Pool 2×2/2 ${w.n}×${w.c}×${w.size}×${w.size}`;
    case "matmul":
      return `matmul ${w.n}×${w.n}×${w.n}`;
    case "lenet":
      return `LeNet-5 train step, batch ${w.n}`;
    case "perExample":
      return `LeNet-5 per-example gradients, batch ${w.n}`;
    case "hessian":
      return `hessian of Σ tanh(W·x), ${w.n} inputs`;
  }
}

/** The pass column: fwd, fwd+bwd, step, or how the gradients or the Hessian are computed. */
export function passName(w: Workload): string {
  switch (w.kind) {
    case "conv":
      return w.pass;
    case "pool":
      return "fwd+bwd";
    case "matmul":
      return "fwd";
    case "lenet":
      return "step";
    case "perExample":
      return { batched: "batched grad", vmap: "vmap(grad)", loop: `${w.n}× grad` }[w.method];
    case "hessian":
      return w.method === "hessian" ? "hessian" : `${w.n}× hvp`;
  }
}

/** A stable key for maps and the JSON output. */
export function workloadKey(w: Workload): string {
  return `${workloadName(w)} ${passName(w)}`;
}

// Inputs. Every peer gets these values (transposed where its layout differs), drawn from a seed
// that depends on the workload and the batch, so a cell timed at a smaller batch and the
// agreement check at that batch use the same data on every side.

export interface ConvData {
  readonly x: Tensor;
  readonly w: Tensor;
  readonly b: Tensor;
  readonly dy: Tensor;
}

/** Deterministic inputs at batch `n` (weights scaled to keep y ~ 1). */
export function convData(spec: ConvCase, n: number): ConvData {
  const rng = prng(n * 1000 + spec.cin * 10 + spec.k);
  const out = convOutSize(spec);
  return {
    x: rng.normal([n, spec.cin, spec.size, spec.size]),
    w: rng.normal([spec.cout, spec.cin, spec.k, spec.k], {
      std: 1 / Math.sqrt(spec.cin * spec.k * spec.k),
    }),
    b: rng.normal([spec.cout], { std: 0.1 }),
    dy: rng.normal([n, spec.cout, out, out]),
  };
}

export interface PoolData {
  readonly x: Tensor;
  readonly dy: Tensor;
}

export function poolData(w: PoolWorkload, n: number): PoolData {
  const rng = prng(7000 + n);
  return {
    x: rng.normal([n, w.c, w.size, w.size]),
    dy: rng.normal([n, w.c, w.size / 2, w.size / 2]),
  };
}

export interface MatmulData {
  readonly a: Tensor;
  readonly b: Tensor;
}

export function matmulData(n: number): MatmulData {
  const rng = prng(n);
  return { a: rng.normal([n, n]), b: rng.normal([n, n]) };
}

/** LeNet-5's params as tapegrad's layers hold them (conv OIHW, linear [out, in]). */
export interface LenetParams {
  readonly conv1: { readonly weight: Tensor; readonly bias: Tensor };
  readonly conv2: { readonly weight: Tensor; readonly bias: Tensor };
  readonly fc1: { readonly weight: Tensor; readonly bias: Tensor };
  readonly fc2: { readonly weight: Tensor; readonly bias: Tensor };
  readonly fc3: { readonly weight: Tensor; readonly bias: Tensor };
}

/** The parameterised layers, in the order the agreement check concatenates their updates. */
export const LENET_LAYERS = ["conv1", "conv2", "fc1", "fc2", "fc3"] as const;

export interface LenetData {
  readonly model: Layer;
  /** Initial params from the layers' own initialisers; every peer starts from these values. */
  readonly params: LenetParams;
  /** [n, 1, 28, 28] images. */
  readonly x: Tensor;
  /** [n] int32 class labels in 0…9. */
  readonly labels: Tensor;
}

export function lenetData(n: number): LenetData {
  const model = lenet();
  const rng = prng(5);
  const params = model.init(rng).params as LenetParams;
  return { model, params, x: rng.normal([n, 1, 28, 28]), labels: rng.randint(0, 10, [n]) };
}

export interface HessianData {
  /** [n, n], entries ~ N(0, 1/n), so W·x ~ 1. */
  readonly w: Tensor;
  /** [n] */
  readonly x: Tensor;
}

export function hessianData(n: number): HessianData {
  const rng = prng(9000 + n);
  return { w: rng.normal([n, n], { std: 1 / Math.sqrt(n) }), x: rng.normal([n]) };
}
