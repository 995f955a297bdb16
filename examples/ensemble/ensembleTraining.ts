// Training an ensemble of small MLPs two ways, each member seeing the same batches both times:
//   trainOneByOne:  for each seed, init one member and run every step on it alone;
//   trainTogether:  init the same members, stack their params on a leading axis of M, and run
//                   every step once for all of them: vmap(valueAndGrad(loss)) over the params,
//                   with one batch shared by all (inAxes [0, null, null]) or a batch per member
//                   stacked like the params (inAxes 0), then one optimizer update on the stacked
//                   tree. SGD with momentum is elementwise, so updating the stack is updating
//                   every member with its own gradient and its own momentum buffer.
import {
  argumentError,
  gather,
  mean,
  prng,
  softmax,
  stack,
  treeLeaves,
  treeMap,
  valueAndGrad,
  vmap,
  type FloatDType,
  type Tensor,
} from "@tapegrad/autodiff";
import { dataLoader, tensorDataset } from "@tapegrad/data";
import { accuracy, crossEntropy, linear, optim, relu, sequential } from "@tapegrad/nn";

/** An ensemble member: inFeatures → hidden → ReLU → classes. */
export function memberMlp(inFeatures: number, hidden: number, classes: number, dtype: FloatDType) {
  return sequential({
    hidden: linear({ inFeatures, outFeatures: hidden, dtype }),
    relu: relu(),
    out: linear({ inFeatures: hidden, outFeatures: classes, dtype }),
  });
}

/** One member's params (a tree of tensors); stacked, every leaf has a leading axis of M. */
export type MemberParams = ReturnType<ReturnType<typeof memberMlp>["init"]>["params"];

/** A labelled set: x [N, inFeatures] float, y [N] int32. */
export interface LabelledSet {
  readonly x: Tensor;
  readonly y: Tensor;
}

/** What both trainings share; every field but `seeds` has a default. */
export interface EnsembleOptions {
  /** One seed per member: member i is initialised from prng(seeds[i]). */
  readonly seeds: readonly number[];
  /** Hidden units per member (default 64). */
  readonly hidden?: number;
  /** Number of classes (default 10). */
  readonly classes?: number;
  /** Params dtype (default float32); x is cast by the caller. */
  readonly dtype?: FloatDType;
  /** Passes over the training set (default 1). */
  readonly epochs?: number;
  /** Samples per step (default 128). */
  readonly batchSize?: number;
  /**
   * "shared" (default): every member sees the same batches in the same order; "perMember":
   * member i shuffles the data with its own seed, dataSeed + i, so the members differ more.
   */
  readonly batches?: "shared" | "perMember";
  /** SGD learning rate (default 0.05), momentum 0.9. */
  readonly lr?: number;
  /** Seeds the batch order (default 0); with perMember batches, member i's is dataSeed + i. */
  readonly dataSeed?: number;
}

/** The trained members, the loss at each step, and the wall time of each step. */
export interface TrainedEnsemble {
  /** Member i's params, in the order of `seeds`. */
  readonly members: readonly MemberParams[];
  /** losses[i][s]: member i's mean batch loss at step s (before that step's update). */
  readonly losses: readonly (readonly number[])[];
  /** Milliseconds of each step (for trainOneByOne, each step of each member, member-major). */
  readonly stepMs: readonly number[];
  /** Milliseconds of the whole training. */
  readonly totalMs: number;
}

function settings(options: EnsembleOptions, train: LabelledSet) {
  const { seeds, hidden = 64, classes = 10, dtype = "float32", epochs = 1 } = options;
  const { batchSize = 128, lr = 0.05, dataSeed = 0, batches = "shared" } = options;
  if (!Array.isArray(seeds) || seeds.length === 0) {
    throw argumentError("ensemble", `seeds must list at least one seed, got ${String(seeds)}`);
  }
  if (batches !== "shared" && batches !== "perMember") {
    throw argumentError("ensemble", `batches must be "shared" or "perMember", got ${batches}`);
  }
  if (train.x.ndim !== 2) {
    throw argumentError("ensemble", `train.x must be [N, features], got rank ${train.x.ndim}`);
  }
  const model = memberMlp(train.x.shape[1]!, hidden, classes, dtype);
  const dataset = tensorDataset(train.x, train.y);
  const shared = batches === "shared";
  // Member i's batches, every epoch in turn: the same for both trainings.
  const batchesOf = function* (member: number) {
    const seed = shared ? dataSeed : dataSeed + member;
    const loader = dataLoader(dataset, { batchSize, shuffle: true, seed });
    for (let epoch = 0; epoch < epochs; epoch++) yield* loader.epoch(epoch);
  };
  // Momentum 0.9 keeps one buffer per weight: elementwise, like the step itself.
  const optimizer = optim.sgd({ lr, momentum: 0.9 });
  const init = (seed: number) => model.init(prng(seed)).params;
  const lossOf = (p: MemberParams, x: Tensor, y: Tensor) => crossEntropy(model.apply(p, x), y);
  return { seeds, shared, model, optimizer, init, batchesOf, lossOf };
}

/** Member by member: each trained alone, from its own seed, on its batches. */
export function trainOneByOne(train: LabelledSet, options: EnsembleOptions): TrainedEnsemble {
  const { seeds, optimizer, init, batchesOf, lossOf } = settings(options, train);
  const lossAndGrad = valueAndGrad(lossOf);
  const start = performance.now();
  const stepMs: number[] = [];
  const members: MemberParams[] = [];
  const losses = seeds.map((seed, i) => {
    let params = init(seed);
    let state = optimizer.init(params);
    const memberLosses: number[] = [];
    for (const [x, y] of batchesOf(i)) {
      const t0 = performance.now();
      const [loss, grads] = lossAndGrad(params, x!, y!);
      [params, state] = optimizer.update(grads, state, params);
      stepMs.push(performance.now() - t0);
      memberLosses.push(loss.item());
    }
    members.push(params);
    return memberLosses;
  });
  return { members, losses, stepMs, totalMs: performance.now() - start };
}

/** All members at once: params stacked on axis 0, one vmapped gradient and one update per step. */
export function trainTogether(train: LabelledSet, options: EnsembleOptions): TrainedEnsemble {
  const { seeds, shared, optimizer, init, batchesOf, lossOf } = settings(options, train);
  // Per member: the loss of its own params on its batch (the shared one, or its slice of the
  // stacked batches), and its gradient.
  const lossAndGrad = vmap(valueAndGrad(lossOf), { inAxes: shared ? [0, null, null] : 0 });
  const start = performance.now();
  let params = stackMembers(seeds.map(init));
  let state = optimizer.init(params);
  const stepMs: number[] = [];
  const losses: number[][] = seeds.map(() => []);
  for (const [x, y] of shared ? batchesOf(0) : stackedBatches(seeds.map((_, i) => batchesOf(i)))) {
    const t0 = performance.now();
    const [loss, grads] = lossAndGrad(params, x!, y!);
    // The update is plain elementwise ops on the stacked tree: no vmap needed.
    [params, state] = optimizer.update(grads, state, params);
    stepMs.push(performance.now() - t0);
    loss.data.forEach((v, i) => losses[i]!.push(v));
  }
  const members = seeds.map((_, i) => memberOf(params, i));
  return { members, losses, stepMs, totalMs: performance.now() - start };
}

/** Step by step, the members' batches stacked: x [M, B, features], y [M, B]. */
function* stackedBatches(perMember: Iterable<Tensor[]>[]): Generator<Tensor[]> {
  const iterators = perMember.map((batches) => batches[Symbol.iterator]());
  for (;;) {
    const next = iterators.map((it) => it.next());
    if (next.some((r) => r.done)) return;
    const batches = next.map((r) => r.value as Tensor[]);
    yield [stack(batches.map((b) => b[0]!)), stack(batches.map((b) => b[1]!))];
  }
}

/** The members' params as one tree whose leaves are stacked along a new axis 0. */
export function stackMembers(members: readonly MemberParams[]): MemberParams {
  return treeMap((...leaves: Tensor[]) => stack(leaves, 0), ...(members as [MemberParams]));
}

/** Member i of a stacked tree: every leaf's slice i along axis 0. */
export function memberOf(stacked: MemberParams, i: number): MemberParams {
  return treeMap((leaf: Tensor) => gather(leaf, i, 0), stacked);
}

/** Accuracy of each member, and of the ensemble that averages their class probabilities. */
export function evaluate(
  model: ReturnType<typeof memberMlp>,
  members: readonly MemberParams[],
  test: LabelledSet,
): { readonly members: number[]; readonly ensemble: number } {
  const logits = members.map((p) => model.apply(p, test.x));
  const meanProbs = mean(stack(logits.map((l) => softmax(l, 1))), { axis: 0 });
  return {
    members: logits.map((l) => accuracy(l, test.y)),
    ensemble: accuracy(meanProbs, test.y),
  };
}

/** The largest |a − b| over every param of every member. */
export function maxParamDifference(a: readonly MemberParams[], b: readonly MemberParams[]): number {
  let largest = 0;
  a.forEach((member, i) => {
    const others = treeLeaves(b[i]) as Tensor[];
    (treeLeaves(member) as Tensor[]).forEach((leaf, k) => {
      const [x, y] = [leaf.data, others[k]!.data];
      for (let j = 0; j < x.length; j++) largest = Math.max(largest, Math.abs(x[j]! - y[j]!));
    });
  });
  return largest;
}
