import {
  TapegradError,
  Tensor,
  add,
  argumentError,
  cast,
  isAbstract,
  reshape,
  dtypeError,
  shapeError,
  show,
  showShape,
  treeFlatten,
  treeMap,
  zerosLike,
  type Tree,
} from "@tapegrad/autodiff";

/**
 * A learning rate as a function of the number of updates already applied (0 for the first).
 * `traced`, where present, computes the same with ops from a step that is a scalar tensor: what
 * an update needs when its step is traced by jit. optim's schedules have it.
 */
export type Schedule = ((step: number) => number) & {
  /** The same schedule with float64 ops, for a step that is a scalar tensor. */
  readonly traced?: (step: Tensor) => Tensor;
};

/** The number of updates applied so far: a number, or a scalar tensor (traced by jit). */
export type Step = number | Tensor;

/** A fixed learning rate, or a schedule evaluated once per update. */
export type LearningRate = number | Schedule;

/** Tensors shaped like the params tree: moment estimates, momentum buffers. */
export type Moments = Tree<Tensor>;

/**
 * An optimizer is a pair of pure functions over param trees, as in optax. `init(params)` makes
 * the state: `step` (updates applied so far) and moment trees shaped like params, numbers and
 * tensors only, so it can be checkpointed. `update(grads, state, params)` returns the new params
 * and state; nothing is mutated, so the same arguments always give the same results.
 */
export interface Optimizer<S = unknown> {
  /** The state before the first update: step 0 and zero moments shaped like `params`. */
  init(params: unknown): S;
  /** One step: the new params and state from the gradients (same tree as params). */
  update<P>(grads: P, state: S, params: P): [P, S];
}

/** A stateless map over gradient trees (clipping, say), put in front of an optimizer by `chain`. */
export type GradientTransform = <G>(grads: G) => G;

/**
 * `optimizer` with `transform` applied to the gradients before every update:
 * `chain(clipGradients(1), adam({ lr: 1e-3 }))`. The state is the optimizer's own.
 */
export function chain<S>(transform: GradientTransform, optimizer: Optimizer<S>): Optimizer<S> {
  if (typeof transform !== "function") {
    throw argumentError(
      "chain",
      `transform must be a function of the grads tree, got ${typeof transform}`,
    );
  }
  return {
    init: (params) => optimizer.init(params),
    update: (grads, state, params) => optimizer.update(transform(grads), state, params),
  };
}

/** @internal Rejects an options argument that is not an object (`sgd()`, `adam(0.01)`, …). */
export function checkOptions(fn: string, options: unknown): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw argumentError(
      fn,
      `expected an options object such as { lr: 0.01 }, got ${show(options)}`,
    );
  }
}

/** @internal Rejects a hyperparameter that is not a finite number satisfying `ok`. */
export function checkNumber(
  fn: string,
  name: string,
  value: unknown,
  ok: (v: number) => boolean,
  expected: string,
): void {
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) {
    throw argumentError(fn, `${name} must be ${expected}, got ${show(value)}`);
  }
}

/** @internal Checks that `lr` is a finite number ≥ 0 or a schedule function. */
export function checkLearningRate(fn: string, lr: unknown): void {
  if (typeof lr === "function") return;
  checkNumber(fn, "lr", lr, (v) => v >= 0, "a finite number ≥ 0 or a schedule (step) => number");
}

/**
 * @internal The learning rate for the update that follows `step` earlier ones: a number, or for a
 * tensor step a float64 scalar tensor from the schedule's traced form.
 */
export function learningRateAt(fn: string, lr: LearningRate, step: Step): number | Tensor {
  if (typeof lr === "number") return lr;
  if (step instanceof Tensor) {
    if (lr.traced !== undefined) return lr.traced(step);
    if (isAbstract(step)) {
      throw argumentError(
        fn,
        "the lr schedule is a function of a number, which cannot follow a step traced by jit; " +
          "give it a traced form (see optim's schedules: constant, stepDecay, cosineDecay, " +
          "linearWarmup, joinSchedules) or keep state.step a number",
      );
    }
    return learningRateAt(fn, lr, step.item());
  }
  const value = lr(step);
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw argumentError(
      fn,
      `the lr schedule returned ${show(value)} at step ${step}; expected a finite number ≥ 0`,
    );
  }
  return value;
}

/**
 * @internal The updates recorded in `state.step`: a non-negative integer, or a scalar tensor
 * holding one (a checkpoint may have turned the number into a one-element tensor; jit traces
 * it), as a scalar.
 */
export function readStep(fn: string, state: unknown): Step {
  const raw =
    typeof state === "object" && state !== null ? (state as { step?: unknown }).step : undefined;
  if (raw instanceof Tensor && raw.size === 1) {
    if (!isAbstract(raw)) checkStepValue(fn, raw.item(), raw);
    return raw.ndim === 0 ? raw : reshape(raw, []);
  }
  checkStepValue(fn, raw, raw);
  return raw as number;
}

function checkStepValue(fn: string, step: unknown, raw: unknown): void {
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
    throw argumentError(
      fn,
      `state.step must be a non-negative integer (the updates applied so far), got ` +
        `${show(raw)}; pass the state returned by init or by the previous update`,
    );
  }
}

/** @internal The step after `step`, as the state records it. */
export function nextStep(step: Step): Step {
  return typeof step === "number" ? step + 1 : add(step, 1);
}

/** @internal A learning rate (or other per-step value) as a factor for tensors like `like`. */
export function factorFor(value: number | Tensor, like: Tensor): number | Tensor {
  return typeof value === "number" ? value : cast(value, like.dtype);
}

/** @internal A tree of zeros shaped like params, whose leaves must all be float tensors. */
export function zerosTree(fn: string, params: unknown): Moments {
  const paths = treeFlatten(params).map(([path]) => path);
  let i = 0;
  return treeMap((leaf: unknown) => {
    checkParam(fn, paths[i++]!, leaf);
    return zerosLike(leaf as Tensor);
  }, params) as Moments;
}

/** @internal One leaf's tensors from each moment tree, by the tree's name in the state. */
export type LeafMoments = Record<string, Tensor>;

/** @internal A per-leaf update rule: new param and new moments from param, grad and moments. */
export type LeafRule = (param: Tensor, grad: Tensor, moments: LeafMoments) => [Tensor, LeafMoments];

/**
 * @internal Applies `rule` to every param leaf with its gradient (cast to the param's dtype) and
 * its leaf of each tree in `moments`, matched by key. Returns the new params and the new moment
 * trees, all shaped like params. Loops over the tree's leaves only, never over data.
 */
export function updateLeaves<P>(
  fn: string,
  params: P,
  grads: P,
  moments: Readonly<Record<string, unknown>>,
  rule: LeafRule,
): [P, Record<string, Moments>] {
  const paths = treeFlatten(params).map(([path]) => path);
  const names = Object.keys(moments);
  const gradLeaves = alignedLeaves(fn, "grads", params, grads);
  const momentLeaves = names.map((name) =>
    alignedLeaves(fn, `state.${name}`, params, moments[name]),
  );
  const newParams: Tensor[] = [];
  const newMoments: Tensor[][] = names.map(() => []);
  paths.forEach((path, i) => {
    const param = gradLeaves.params[i];
    checkParam(fn, path, param);
    const grad = asLeafOf(fn, "grads", path, gradLeaves.others[i], param);
    const leafMoments: LeafMoments = {};
    names.forEach((name, k) => {
      leafMoments[name] = asLeafOf(fn, `state.${name}`, path, momentLeaves[k]!.others[i], param);
    });
    const g = grad.dtype === param.dtype ? grad : cast(grad, param.dtype);
    const [p, m] = rule(param, g, leafMoments);
    newParams.push(p);
    names.forEach((name, k) => newMoments[k]!.push(m[name]!));
  });
  const out: Record<string, Moments> = {};
  names.forEach((name, k) => {
    out[name] = rebuild(params, newMoments[k]!) as Moments;
  });
  return [rebuild(params, newParams) as P, out];
}

/** The leaves of params and, matched by key, of `other`; a structure mismatch names `what`. */
function alignedLeaves(fn: string, what: string, params: unknown, other: unknown) {
  const leaves = { params: [] as unknown[], others: [] as unknown[] };
  try {
    treeMap(
      (p: unknown, o: unknown) => {
        leaves.params.push(p);
        leaves.others.push(o);
        return null;
      },
      params,
      other,
    );
  } catch (error) {
    if (!(error instanceof TapegradError)) throw error;
    const detail = error.message.replace(/^treeMap: /, "");
    throw new TapegradError(
      error.code,
      `${fn}: ${what} does not have the structure of params: ${detail}`,
    );
  }
  return leaves;
}

/** The tree of params' structure whose leaves are `values`, in treeMap's leaf order. */
function rebuild(params: unknown, values: readonly unknown[]): unknown {
  let i = 0;
  return treeMap(() => values[i++], params);
}

function checkParam(fn: string, path: string, leaf: unknown): asserts leaf is Tensor {
  if (leaf instanceof Tensor && leaf.dtype !== "int32") return;
  const got = leaf instanceof Tensor ? `an int32 tensor` : show(leaf);
  throw new TapegradError(
    leaf instanceof Tensor ? "DTYPE_MISMATCH" : "INVALID_ARGUMENT",
    `${fn}: params${at(path)} must be a float32 or float64 tensor, got ${got}`,
  );
}

function asLeafOf(fn: string, what: string, path: string, leaf: unknown, param: Tensor): Tensor {
  if (!(leaf instanceof Tensor)) {
    throw argumentError(fn, `${what}${at(path)} must be a tensor, got ${show(leaf)}`);
  }
  if (leaf.shape.length !== param.shape.length || leaf.shape.some((d, i) => d !== param.shape[i])) {
    throw shapeError(
      fn,
      `${what}${at(path)} has shape ${showShape(leaf.shape)}, expected ` +
        `${showShape(param.shape)} (the shape of params${at(path)})`,
    );
  }
  if (leaf.dtype === "int32") {
    throw dtypeError(fn, `${what}${at(path)} must be a float tensor, got int32`);
  }
  return leaf;
}

function at(path: string): string {
  return path === "" ? "" : `.${path}`;
}
