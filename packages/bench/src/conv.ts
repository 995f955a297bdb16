import { conv2d, prng, transpose, vjp, type Tensor } from "@tapegrad/autodiff";
import type * as Tfjs from "@tensorflow/tfjs";
import {
  runTf,
  takeData,
  timeAdaptive,
  type Tf,
  type TfTensor,
  type Timing,
  type TimingOptions,
} from "./tfjs.js";

/** One float32 convolution workload, stride 1, square kernel, symmetric zero padding. */
export interface ConvCase {
  readonly label: string;
  readonly n: number;
  readonly cin: number;
  readonly cout: number;
  /** Input height = width. */
  readonly size: number;
  /** Kernel height = width. */
  readonly k: number;
  readonly padding: number;
}

export const convCases: readonly ConvCase[] = [
  { label: "LeNet conv1", n: 64, cin: 1, cout: 6, size: 28, k: 5, padding: 0 },
  { label: "LeNet conv2", n: 64, cin: 6, cout: 16, size: 12, k: 5, padding: 0 },
  { label: "3×3 same", n: 32, cin: 32, cout: 64, size: 32, k: 3, padding: 1 },
];

export type ConvPass = "fwd" | "fwd+bwd";

/** Output height = width. */
export function convOutSize(spec: ConvCase): number {
  return spec.size + 2 * spec.padding - spec.k + 1;
}

/**
 * Multiply-adds × 2 of the forward pass, 2·N·Cout·Hout·Wout·Cin·kh·kw (bias ignored); the
 * backward pass (input and weight gradients) costs twice that again, so fwd+bwd counts 3×.
 */
export function convFlops(spec: ConvCase, pass: ConvPass): number {
  const out = convOutSize(spec);
  const forward = 2 * spec.n * spec.cout * out * out * spec.cin * spec.k * spec.k;
  return pass === "fwd" ? forward : 3 * forward;
}

/** Shape notation for the report, NCHW input → output channels: `64×1×28×28→6 k5`. */
export function convShape(spec: ConvCase): string {
  const pad = spec.padding > 0 ? ` p${spec.padding}` : "";
  return `${spec.n}×${spec.cin}×${spec.size}×${spec.size}→${spec.cout} k${spec.k}${pad}`;
}

export interface ConvCell {
  readonly pass: ConvPass;
  readonly flops: number;
  readonly tapegrad: CellTiming;
  readonly tfjs: CellTiming;
}

/**
 * Max |tapegrad − tfjs| per result (tfjs's values transposed back to tapegrad's layout): the
 * forward output at the full batch, the gradients at `gradBatch` (the batch the tfjs fwd+bwd
 * cell was timed at, so the check costs no more than one timed call).
 */
export interface ConvAgreement {
  readonly y: number;
  readonly gradBatch: number;
  readonly dx: number;
  readonly dw: number;
  readonly db: number;
  /** max |y|, for scale. */
  readonly yScale: number;
}

export interface ConvResult {
  readonly spec: ConvCase;
  readonly cells: readonly ConvCell[];
  readonly agreement: ConvAgreement;
  /** tfjs tensors still allocated after the case minus before it (0: nothing leaked). */
  readonly tfjsLeak: number;
}

/** Adaptive repetitions: ~2 s of timed calls per cell, at least 3 and at most 15 calls. */
const timing: TimingOptions = {
  warmup: 2,
  warmupBudgetMs: 500,
  minRuns: 3,
  maxRuns: 15,
  budgetMs: 2000,
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`size mismatch: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]!));
  return worst;
}

/** A tapegrad tensor as a tfjs one, its axes permuted by `perm` (e.g. NCHW → NHWC). */
function toTf(tf: Tf, t: Tensor, perm: readonly number[]): TfTensor {
  const moved = transpose(t, perm);
  return tf.tensor(moved.data as Float32Array, [...moved.shape], "float32");
}

/** A tfjs tensor's values, its axes permuted by `perm` first (e.g. NHWC → NCHW). */
function fromTf(tf: Tf, t: TfTensor, perm: readonly number[]): Float32Array {
  return takeData(tf.tidy(() => tf.transpose(t, [...perm])));
}

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
/** tapegrad weights are [Cout, Cin, kh, kw], tfjs filters [kh, kw, Cin, Cout]. */
const OIHW_TO_HWIO = [2, 3, 1, 0];
const HWIO_TO_OIHW = [3, 2, 0, 1];

/**
 * The longest a single call may be expected to take before the cell is timed on a smaller batch
 * and scaled up (conv cost is linear in N). It applies to both libraries alike; in practice it
 * catches tfjs's cpu weight-gradient kernel (Conv2DBackpropFilter), which reads every element
 * through `TensorBuffer.get` and makes its fwd+bwd of the 3×3 workload take ~100 s per call.
 * `BENCH_FULL=1` times every cell at full size however long it takes.
 */
export const callCapMs = process.env["BENCH_FULL"] ? Infinity : 5000;

/** One timed cell; `medianMs` is for the full batch, measured at `batch` and scaled when smaller. */
export interface CellTiming extends Timing {
  readonly batch: number;
}

interface Prepared {
  readonly run: () => void;
  readonly dispose: () => void;
}

function timeOnce(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/**
 * Times `prepare(n).run` at n = `batch`, unless a probe at n = 1 predicts a call longer than
 * `capMs`: then at the largest n that fits (at least 1), the median scaled by batch / n.
 */
function timeCell(prepare: (n: number) => Prepared, batch: number, capMs: number): CellTiming {
  let n = batch;
  let warm: Prepared | undefined;
  if (batch > 1 && Number.isFinite(capMs)) {
    const probe = prepare(1);
    let probeMs = timeOnce(probe.run);
    // The first call may still be cold (JIT); a second is cheap when the first was.
    if (probeMs < 200) probeMs = Math.min(probeMs, timeOnce(probe.run));
    const estimate = probeMs * batch;
    if (estimate > capMs) n = Math.max(1, Math.floor((batch * capMs) / estimate));
    if (n === 1) warm = probe;
    else probe.dispose();
  }
  const prepared = warm ?? prepare(n);
  try {
    // At n = 1 after a probe, the probe calls were the warm-up.
    const t = timeAdaptive(prepared.run, warm ? { ...timing, warmup: 0 } : timing);
    return { medianMs: (t.medianMs * batch) / n, runs: t.runs, batch: n };
  } finally {
    prepared.dispose();
  }
}

interface ConvInputs {
  readonly x: Tensor;
  readonly w: Tensor;
  readonly b: Tensor;
  readonly dy: Tensor;
}

/** Deterministic float32 inputs for `spec` at batch size `n` (weights scaled to keep y ~ 1). */
function convInputs(spec: ConvCase, n: number): ConvInputs {
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

interface TfInputs {
  readonly x: TfTensor;
  readonly w: TfTensor;
  readonly b: TfTensor;
  readonly dy: TfTensor;
}

/** The same inputs in tfjs's layouts: NHWC data, [kh, kw, Cin, Cout] filter. */
function toTfInputs(tf: Tf, inputs: ConvInputs): TfInputs {
  return {
    x: toTf(tf, inputs.x, NCHW_TO_NHWC),
    w: toTf(tf, inputs.w, OIHW_TO_HWIO),
    b: toTf(tf, inputs.b, [0]),
    dy: toTf(tf, inputs.dy, NCHW_TO_NHWC),
  };
}

/**
 * Times one workload forward and forward+backward on tapegrad (NCHW, the public `conv2d` op)
 * and on tfjs's cpu backend (NHWC, the same data transposed), and compares their results.
 *
 * Both sides do the same work per fwd+bwd call: one forward pass of conv + bias, then the
 * gradients w.r.t. input, weight and bias for a given output cotangent dy (tapegrad: `vjp` and
 * its pullback; tfjs: `tf.grads(f)(args, dy)`, which seeds the backward pass with dy).
 */
export function benchConv(tf: Tf, spec: ConvCase, capMs: number = callCapMs): ConvResult {
  const tensorsBefore = tf.memory().numTensors;
  const full = convInputs(spec, spec.n);
  const inputsAt = (n: number) => (n === spec.n ? full : convInputs(spec, n));

  const pad = spec.padding === 0 ? "valid" : spec.padding;
  const tfForward = (x: TfTensor, w: TfTensor, b: TfTensor): TfTensor =>
    tf.add(tf.conv2d(x as Tfjs.Tensor4D, w as Tfjs.Tensor4D, 1, pad), b);
  const tfGrads = tf.grads(tfForward as (...args: TfTensor[]) => TfTensor);
  const tfPrepare =
    (pass: ConvPass) =>
    (n: number): Prepared => {
      const t = toTfInputs(tf, inputsAt(n));
      return {
        run:
          pass === "fwd"
            ? () => void runTf(tf, () => tfForward(t.x, t.w, t.b))
            : () => void runTf(tf, () => tfGrads([t.x, t.w, t.b], t.dy)),
        dispose: () => tf.dispose([t.x, t.w, t.b, t.dy]),
      };
    };

  const tgForward = (x: Tensor, w: Tensor, b: Tensor) =>
    conv2d(x, w, { bias: b, padding: spec.padding });
  const tgPrepare =
    (pass: ConvPass) =>
    (n: number): Prepared => {
      const { x, w, b, dy } = inputsAt(n);
      return {
        run:
          pass === "fwd"
            ? () => void tgForward(x, w, b)
            : () => void vjp(tgForward, x, w, b)[1](dy),
        dispose: () => {},
      };
    };

  const cells: ConvCell[] = [];
  for (const pass of ["fwd", "fwd+bwd"] as const) {
    cells.push({
      pass,
      flops: convFlops(spec, pass),
      tapegrad: timeCell(tgPrepare(pass), spec.n, capMs),
      tfjs: timeCell(tfPrepare(pass), spec.n, capMs),
    });
  }

  // Forward outputs at the full batch.
  const t = toTfInputs(tf, full);
  const ty = runTf(tf, () => tfForward(t.x, t.w, t.b), true)[0]!;
  const y = tgForward(full.x, full.w, full.b);
  const yDiff = maxAbsDiff(y.data, fromTf(tf, ty, NHWC_TO_NCHW));
  tf.dispose([t.x, t.w, t.b, t.dy, ty]);

  // Gradients at the batch the tfjs fwd+bwd cell ran at.
  const gradBatch = cells[1]!.tfjs.batch;
  const g = inputsAt(gradBatch);
  const [dx, dw, db] = vjp(tgForward, g.x, g.w, g.b)[1](g.dy);
  const tg = toTfInputs(tf, g);
  const [tdx, tdw, tdb] = runTf(tf, () => tfGrads([tg.x, tg.w, tg.b], tg.dy), true) as [
    TfTensor,
    TfTensor,
    TfTensor,
  ];
  const agreement: ConvAgreement = {
    y: yDiff,
    gradBatch,
    dx: maxAbsDiff(dx.data, fromTf(tf, tdx, NHWC_TO_NCHW)),
    dw: maxAbsDiff(dw.data, fromTf(tf, tdw, HWIO_TO_OIHW)),
    db: maxAbsDiff(db.data, takeData(tdb)),
    yScale: maxAbs(y.data),
  };
  tf.dispose([tg.x, tg.w, tg.b, tg.dy, tdx, tdw, tdb]);
  return { spec, cells, agreement, tfjsLeak: tf.memory().numTensors - tensorsBefore };
}
