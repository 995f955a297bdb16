import {
  Tensor,
  add,
  argumentError,
  cast,
  div,
  expandDims,
  grad,
  matmul,
  maximum,
  mul,
  reciprocal,
  reshape,
  show,
  shapeError,
  sqrt,
  square,
  sum,
  treeFlatten,
  treeMap,
  vmap,
  type Rng,
} from "@tapegrad/autodiff";

/** A loss of a batch: params, inputs [B, ...] and labels [B, ...] to a scalar. */
export type BatchLoss<P> = (params: P, x: Tensor, y: Tensor) => Tensor;

/**
 * g_i = ∇_params loss(params, x_i, y_i) for every example i, in one call: `vmap(grad(loss))` over
 * axis 0 of x and y with the params shared (not mapped). Each example is passed to `loss` as a
 * batch of one (x_i [1, ...], y_i [1, ...]), so a loss written for batches serves unchanged.
 * Returns the params' tree with a leading axis of size B on every leaf.
 */
export function perExampleGradients<P>(loss: BatchLoss<P>): (params: P, x: Tensor, y: Tensor) => P {
  const exampleLoss = (params: P, x: Tensor, y: Tensor) =>
    loss(params, expandDims(x, 0), expandDims(y, 0));
  return vmap(grad(exampleLoss), { inAxes: [null, 0, 0] });
}

/** DP-SGD's two hyperparameters (Abadi et al., 2016). */
export interface PrivacyOptions {
  /** C: the L2 norm every example's whole gradient is clipped to (> 0). */
  readonly clipNorm: number;
  /** σ: the Gaussian noise's standard deviation is σ·C per coordinate (≥ 0; 0 adds none). */
  readonly noiseMultiplier: number;
}

/** Each example's gradient norm before clipping, [B], and the factor that clips it, [B]. */
export interface ClipFactors {
  readonly norms: Tensor;
  readonly factors: Tensor;
}

/**
 * s_i = 1 / max(1, ‖g_i‖/C), where ‖g_i‖ is the L2 norm of example i's gradient over all leaves
 * together (axis 0 of each leaf indexes the examples): exactly 1 where ‖g_i‖ ≤ C, so those
 * gradients stay unchanged, and C/‖g_i‖ elsewhere, which scales them to norm C.
 */
export function clipFactors(perExample: unknown, clipNorm: number): ClipFactors {
  checkClipNorm("clipFactors", clipNorm);
  let squaredNorms: Tensor | undefined;
  for (const leaf of batchedLeaves("clipFactors", perExample)) {
    // Every axis but the examples' one: a scalar parameter's leaf [B] has none left to sum.
    const axes = leaf.shape.slice(1).map((_, i) => i + 1);
    const squares = axes.length === 0 ? square(leaf) : sum(square(leaf), { axis: axes });
    squaredNorms = squaredNorms === undefined ? squares : add(squaredNorms, squares);
  }
  const norms = sqrt(squaredNorms!);
  return { norms, factors: reciprocal(maximum(div(norms, clipNorm), 1)) };
}

/** ḡ_i = s_i·g_i (clipFactors): every example's gradient clipped to norm ≤ C, as a tree. */
export function clipPerExample<G>(perExample: G, clipNorm: number): G {
  const { factors } = clipFactors(perExample, clipNorm);
  return treeMap((leaf: Tensor) => mul(leaf, perExampleScale(factors, leaf)), perExample);
}

/**
 * The DP-SGD gradient of one batch from its per-example gradients g_i, i = 1…B:
 * (Σ_i ḡ_i + N(0, σ²C²·I)) / B, where ḡ_i is g_i clipped to norm ≤ C (clipPerExample) and the
 * noise is one Gaussian draw per coordinate from `rng`. With σ = 0 it is the mean of the ḡ_i.
 * Also returns the norms before clipping, to see how many examples the clip reaches.
 */
export function privateGradient<G>(
  perExample: G,
  options: PrivacyOptions & { readonly rng: Rng },
): { readonly gradient: G; readonly norms: Tensor } {
  const { clipNorm, noiseMultiplier, rng } = options;
  if (!Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) {
    throw argumentError(
      "privateGradient",
      `noiseMultiplier must be a finite number ≥ 0, got ${show(noiseMultiplier)}`,
    );
  }
  const { norms, factors } = clipFactors(perExample, clipNorm);
  const batchSize = factors.shape[0]!;
  const weights = reshape(factors, [1, batchSize]);
  const std = noiseMultiplier * clipNorm;
  const gradient = treeMap((leaf: Tensor) => {
    // Σ_i s_i·g_i as one [1, B] × [B, D] product: a single pass over the per-example gradients,
    // where scaling them and then summing would write and read a second copy of them.
    const rows = reshape(leaf, [batchSize, -1]);
    const summed = reshape(matmul(cast(weights, leaf.dtype), rows), leaf.shape.slice(1));
    // σ = 0 is the non-private limit: nothing to draw.
    const noised =
      std === 0 ? summed : add(summed, rng.normal(summed.shape, { std, dtype: leaf.dtype }));
    return div(noised, batchSize);
  }, perExample);
  return { gradient, norms };
}

/** factors [B] reshaped to [B, 1, …, 1], to broadcast over a leaf of `leaf`'s rank. */
function perExampleScale(factors: Tensor, leaf: Tensor): Tensor {
  let scale = factors;
  for (let i = 1; i < leaf.shape.length; i++) scale = expandDims(scale, -1);
  return scale;
}

function checkClipNorm(fn: string, clipNorm: number): void {
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) {
    throw argumentError(fn, `clipNorm must be a finite number > 0, got ${show(clipNorm)}`);
  }
}

/** The leaves of a per-example tree, each checked to be a tensor with the same axis 0. */
function batchedLeaves(fn: string, tree: unknown): Tensor[] {
  const flat = treeFlatten(tree);
  if (flat.length === 0) throw argumentError(fn, "the gradient tree has no leaves");
  let batchSize: number | undefined;
  return flat.map(([path, leaf]) => {
    const where = path === "" ? "the gradient" : `gradient.${path}`;
    if (!(leaf instanceof Tensor))
      throw argumentError(fn, `${where} must be a tensor, got ${show(leaf)}`);
    if (leaf.shape.length === 0) {
      throw shapeError(
        fn,
        `${where} is a scalar; per-example gradients have the examples on axis 0`,
      );
    }
    batchSize ??= leaf.shape[0];
    if (leaf.shape[0] !== batchSize) {
      throw shapeError(
        fn,
        `${where} has ${leaf.shape[0]} examples on axis 0, the first leaf ${batchSize}`,
      );
    }
    return leaf;
  });
}
