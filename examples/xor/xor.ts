// XOR, the classic problem no single linear layer can solve: a 2 → 8 → 2 MLP made of nn layers
// learns it with Adam. The model is a Layer ({ init, apply }); its params are a plain tree that
// grad returns gradients for in the same shape, and optim.adam updates as a pure function.
//
//   tsx xor.ts [--steps N]
import { pathToFileURL } from "node:url";
import { argmax, prng, softmax, tensor, valueAndGrad, type Tensor } from "@tapegrad/autodiff";
import { accuracy, crossEntropy, linear, optim, sequential, tanh } from "@tapegrad/nn";

/** The four inputs of the truth table and their labels a XOR b. */
export const INPUTS = tensor([
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
]);
export const LABELS = tensor([0, 1, 1, 0], { dtype: "int32" });

/** Two inputs, `hidden` tanh units, two logits (class 0 and class 1). */
export function xorModel(hidden = 8) {
  return sequential({
    hidden: linear({ inFeatures: 2, outFeatures: hidden }),
    tanh: tanh(),
    out: linear({ inFeatures: hidden, outFeatures: 2 }),
  });
}

export interface XorOptions {
  readonly steps?: number;
  readonly hidden?: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Report the loss every this many steps (default 50). */
  readonly logEvery?: number;
  readonly log?: (line: string) => void;
}

export interface TruthRow {
  readonly a: number;
  readonly b: number;
  readonly label: number;
  readonly predicted: number;
  /** The model's probability that a XOR b is 1. */
  readonly p1: number;
}

export interface XorResult {
  /** [step, loss] at every reported step. */
  readonly losses: readonly (readonly [number, number])[];
  readonly finalLoss: number;
  readonly accuracy: number;
  readonly table: readonly TruthRow[];
}

/** Full-batch training on the four examples; returns the loss curve and the final truth table. */
export function trainXor(options: XorOptions = {}): XorResult {
  const { steps = 500, hidden = 8, lr = 0.01, seed = 0, logEvery = 50, log = () => {} } = options;
  const model = xorModel(hidden);
  let { params } = model.init(prng(seed));
  const optimizer = optim.adam({ lr });
  let optState = optimizer.init(params);

  const loss = (p: typeof params) => crossEntropy(model.apply(p, INPUTS), LABELS);
  const lossAndGrad = valueAndGrad(loss);
  const losses: [number, number][] = [];
  for (let step = 1; step <= steps; step++) {
    const [value, grads] = lossAndGrad(params);
    [params, optState] = optimizer.update(grads, optState, params);
    if (step % logEvery === 0 || step === 1) {
      losses.push([step, value.item()]);
      log(`step ${String(step).padStart(4)}: loss ${value.item().toFixed(5)}`);
    }
  }

  const logits = model.apply(params, INPUTS);
  const p1 = softmax(logits, -1).toArray() as number[][];
  const predicted = argmax(logits, { axis: 1 }).data;
  const [inputs, labels] = [INPUTS.data, LABELS.data];
  const table = [0, 1, 2, 3].map((i) => ({
    a: inputs[2 * i]!,
    b: inputs[2 * i + 1]!,
    label: labels[i]!,
    predicted: predicted[i]!,
    p1: p1[i]![1]!,
  }));
  return {
    losses,
    finalLoss: loss(params).item(),
    accuracy: accuracy(logits, LABELS),
    table,
  };
}

export function formatTable(table: readonly TruthRow[]): string {
  const lines = [" a  b | a XOR b | predicted | P(1)"];
  for (const r of table) {
    lines.push(` ${r.a}  ${r.b} |    ${r.label}    |     ${r.predicted}     | ${r.p1.toFixed(3)}`);
  }
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--steps");
  const steps = at >= 0 ? Number(argv[at + 1]) : 500;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`--steps must be a positive integer, got "${argv[at + 1]}"`);
  }
  const start = performance.now();
  const result = trainXor({ steps, log: console.log });
  const seconds = (performance.now() - start) / 1000;
  console.log(`\n${formatTable(result.table)}`);
  console.log(
    `\naccuracy ${(100 * result.accuracy).toFixed(0)}%, final loss ${result.finalLoss.toFixed(5)}` +
      ` (${steps} steps in ${seconds.toFixed(2)} s)`,
  );
}
