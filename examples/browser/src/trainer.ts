// The part of the page that knows nothing of the DOM: the model, one training step, and
// evaluation in slices — so the page can interleave them with rendering and stay responsive.
import {
  argmax,
  equal,
  jit,
  prng,
  slice,
  sum,
  tensor,
  valueAndGrad,
  type Tensor,
} from "@tapegrad/autodiff";
import { dataLoader, tensorDataset, type DataLoader } from "@tapegrad/data";
import {
  conv2d,
  crossEntropy,
  flatten,
  linear,
  maxPool2d,
  optim,
  relu,
  sequential,
} from "@tapegrad/nn";

/** A small CNN for 1×28×28 images: two conv–relu–pool stages and a linear classifier. */
export function smallCnn() {
  return sequential({
    conv1: conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3, padding: 1 }),
    relu1: relu(),
    pool1: maxPool2d({ kernelSize: 2 }), // 8×14×14
    conv2: conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3, padding: 1 }),
    relu2: relu(),
    pool2: maxPool2d({ kernelSize: 2 }), // 16×7×7
    flatten: flatten(),
    fc: linear({ inFeatures: 16 * 7 * 7, outFeatures: 10 }),
  });
}

/** Normalised images [N, 1, 28, 28] and int32 labels [N] of one split. */
export interface Split {
  readonly x: Tensor;
  readonly y: Tensor;
}

export interface TrainerOptions {
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
}

export interface Trainer {
  /** One optimisation step on the next mini-batch; returns its loss. */
  step(): number;
  /** Optimisation steps taken so far. */
  readonly steps: number;
  /** Full passes over the training set completed so far. */
  readonly epoch: number;
  /** Predicted class of every image of x, as numbers. */
  predict(x: Tensor): number[];
  /** Correct predictions among rows [start, end) of a split. */
  correct(split: Split, start: number, end: number): number;
}

export function createTrainer(train: Split, options: TrainerOptions = {}): Trainer {
  const { batchSize = 32, lr = 2e-3, seed = 0 } = options;
  const model = smallCnn();
  let params = model.init(prng(seed)).params;
  const optimizer = optim.adam({ lr });
  // The step count as a tensor: the traced step takes each step's count as an input.
  let optState: optim.AdamState = {
    ...optimizer.init(params),
    step: tensor(0, { dtype: "int32" }),
  };
  const lossAndGrad = valueAndGrad((p: typeof params, x: Tensor, y: Tensor) =>
    crossEntropy(model.apply(p, x), y),
  );
  // Loss, gradients and the update, traced once by jit and replayed; the old params and
  // optimizer state are donated, so the update writes over them.
  const update = jit(
    (p: typeof params, s: optim.AdamState, x: Tensor, y: Tensor) => {
      const [loss, grads] = lossAndGrad(p, x, y);
      const [next, nextState] = optimizer.update(grads, s, p);
      return { loss, params: next, optState: nextState };
    },
    { donateArgnums: [0, 1] },
  );
  const loader: DataLoader<Tensor[]> = dataLoader(tensorDataset(train.x, train.y), {
    batchSize,
    shuffle: true,
    seed,
    dropLast: true,
  });
  let epoch = 0;
  let steps = 0;
  let batches = loader.epoch(epoch)[Symbol.iterator]();

  const logits = (x: Tensor) => model.apply(params, x);
  return {
    step() {
      let next = batches.next();
      if (next.done) {
        epoch++;
        batches = loader.epoch(epoch)[Symbol.iterator]();
        next = batches.next();
      }
      const [x, y] = next.value as [Tensor, Tensor];
      const result = update(params, optState, x, y);
      ({ params, optState } = result);
      steps++;
      return result.loss.item();
    },
    get steps() {
      return steps;
    },
    get epoch() {
      return epoch;
    },
    predict(x) {
      return Array.from(argmax(logits(x), { axis: 1 }).data);
    },
    correct(split, start, end) {
      const x = slice(split.x, [start], [end]);
      const y = slice(split.y, [start], [end]);
      return sum(equal(argmax(logits(x), { axis: 1 }), y)).item();
    },
  };
}
