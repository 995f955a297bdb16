// A deep equilibrium layer: its output is the fixed point z* = tanh(z*·Wᵀ + x·Uᵀ + b), found by
// iterating the map from z = 0 on plain values, and its gradient comes from the implicit
// function theorem instead of from the iterations:
//   z* = f(z*, θ)  ⇒  dz* = J·dz* + ∂f/∂θ·dθ,  J = ∂f/∂z at z*,
// so for a cotangent ḡ of z* the cotangent of θ is (∂f/∂θ)ᵀ·u with u = Jᵀu + ḡ, itself a fixed
// point, found by iterating u ↦ vjp_z(f)(u) + ḡ. The tape keeps one node for the whole solve,
// however many iterations it took.
import {
  abs,
  add,
  argumentError,
  customVjp,
  div,
  matmul,
  max,
  mul,
  onesLike,
  sqrt,
  square,
  stopGradient,
  sub,
  sum,
  tanh,
  vjp,
  zeros,
  type FloatDType,
  type Rng,
  type Tensor,
} from "@tapegrad/autodiff";

/** The equilibrium map's weights: W [H, H], U [H, in], b [H]. */
export interface MapParams {
  readonly W: Tensor;
  readonly U: Tensor;
  readonly b: Tensor;
}

/** f(z, θ, x) = tanh(z·Wᵀ + x·Uᵀ + b) for z [N, H], x [N, in]: one step of the iteration. */
export function fixedPointMap(z: Tensor, { W, U, b }: MapParams, x: Tensor): Tensor {
  return tanh(add(add(matmul(z, W, { transB: true }), matmul(x, U, { transB: true })), b));
}

/** How the two solves stop: when no element moved more than `tolerance` in one iteration. */
export interface SolverOptions {
  /** Largest change of any element between the last two iterates (default 1e-10, float32 1e-5). */
  readonly tolerance?: number;
  /** Give up (with an error) after this many iterations (default 500). */
  readonly maxIterations?: number;
  /** Told how many iterations each solve took: the forward one (z*) and the backward one (u). */
  readonly onSolve?: (phase: "forward" | "backward", iterations: number) => void;
}

/** A fixed point and how many iterations it took. */
export interface Solution {
  readonly value: Tensor;
  readonly iterations: number;
}

/**
 * Iterates v ← step(v) from `start` until no element changes by more than `tolerance`. It
 * records whatever step's ops record: solveForward gives it constants only, while the backward
 * solve stays differentiable for second derivatives.
 */
export function iterateToFixedPoint(
  step: (v: Tensor) => Tensor,
  start: Tensor,
  options: SolverOptions,
  what: string,
): Solution {
  const { maxIterations = 500 } = options;
  // float32 rounds at about 6e-8 relative: iterates stop changing well above 1e-10.
  const tolerance = options.tolerance ?? (start.dtype === "float32" ? 1e-5 : 1e-10);
  let v = start;
  let change = NaN;
  for (let iterations = 1; iterations <= maxIterations; iterations++) {
    const next = step(v);
    change = max(abs(sub(next, v))).item();
    v = next;
    if (!Number.isFinite(change)) break;
    if (change <= tolerance) return { value: v, iterations };
  }
  throw argumentError(
    "fixedPoint",
    `the ${what} iteration did not reach a change ≤ ${tolerance} within ${maxIterations} ` +
      `iterations (last change ${change}): the map must be a contraction (‖W‖₂ < 1), or ` +
      `raise maxIterations`,
  );
}

/** z* for θ and x, from z = 0, with the iterates kept off every tape. */
export function solveForward(params: MapParams, x: Tensor, options: SolverOptions = {}): Solution {
  const W = stopGradient(params.W);
  // x·Uᵀ + b does not change between iterations: computed once.
  const injection = stopGradient(add(matmul(x, params.U, { transB: true }), params.b));
  const start = zeros([x.shape[0]!, W.shape[0]!], W.dtype);
  const step = (z: Tensor) => tanh(add(matmul(z, W, { transB: true }), injection));
  return iterateToFixedPoint(step, start, options, "forward");
}

/**
 * The equilibrium z* = f(z*, θ, x) as a differentiable function of θ and x, with the implicit
 * function theorem's vjp: u = Jᵀu + ḡ by iteration, then (dθ, dx) = vjp of f at z* applied to
 * u. Check it with checkGrads; it holds only where the map contracts.
 */
export function fixedPoint(options: SolverOptions = {}) {
  checkSolverOptions(options);
  const solve = (params: MapParams, x: Tensor) => {
    const { value, iterations } = solveForward(params, x, options);
    options.onSolve?.("forward", iterations);
    return value;
  };
  const layer: (params: MapParams, x: Tensor) => Tensor = customVjp(solve, {
    // The residual z* comes from the layer itself: when an outer transform differentiates bwd
    // (second order), customVjp reruns fwd on its traced values, and z* then carries its own
    // implicit derivative instead of being a constant.
    fwd: (params: MapParams, x: Tensor) => {
      const z: Tensor = layer(params, x);
      return [z, { params, x, z }] as const;
    },
    bwd: ({ params, x, z }, dz: Tensor) => {
      const [, pullbackZ] = vjp((v: Tensor) => fixedPointMap(v, params, x), z);
      const adjointStep = (g: Tensor) => (u: Tensor) => add(pullbackZ(u)[0], g);
      let u: Tensor;
      let iterations: number;
      if (max(abs(dz)).item() === 0) {
        // Forward mode transposes this function at dz = 0 (it is linear in dz), where every
        // iterate is 0 and the stopping test passes at once, which would record a single step.
        // So a zero cotangent takes as many steps as a cotangent of ones needs.
        ({ iterations } = iterateToFixedPoint(adjointStep(onesLike(dz)), dz, options, "backward"));
        u = dz;
        for (let k = 0; k < iterations; k++) u = adjointStep(dz)(u);
      } else {
        ({ value: u, iterations } = iterateToFixedPoint(adjointStep(dz), dz, options, "backward"));
      }
      options.onSolve?.("backward", iterations);
      const [, pullbackInputs] = vjp(
        (p: MapParams, v: Tensor) => fixedPointMap(z, p, v),
        params,
        x,
      );
      return pullbackInputs(u);
    },
    name: "fixedPoint",
  });
  return layer;
}

/**
 * The same equilibrium by `iterations` plain steps of f from z = 0, every one on the tape:
 * its gradient is the unrolled one, which tends to the implicit one as iterations grow.
 */
export function unrolledFixedPoint(params: MapParams, x: Tensor, iterations: number): Tensor {
  let z = zeros([x.shape[0]!, params.W.shape[0]!], params.W.dtype);
  for (let k = 0; k < iterations; k++) z = fixedPointMap(z, params, x);
  return z;
}

/** The layer's trainable params: V [H, H] (W = scale·V/‖V‖_F), U [H, in], b [H]. */
export interface EquilibriumParams {
  readonly V: Tensor;
  readonly U: Tensor;
  readonly b: Tensor;
}

/**
 * W = scale·V/‖V‖_F. The Frobenius norm bounds the spectral norm, so ‖W‖₂ ≤ scale < 1 and,
 * tanh' being at most 1, the map contracts with factor ≤ scale for every V. Gradient: the
 * normalisation's, by ordinary ops, around the solve.
 */
export function contractiveWeight(V: Tensor, scale: number): Tensor {
  return mul(div(V, sqrt(sum(square(V)))), scale);
}

/** Options of equilibriumLayer; the solver's as in SolverOptions. */
export interface EquilibriumOptions extends SolverOptions {
  readonly inFeatures: number;
  readonly hidden: number;
  /** Bound on ‖W‖₂, in (0, 1) (default 0.8). */
  readonly scale?: number;
  /** Default float32. */
  readonly dtype?: FloatDType;
}

/**
 * x [N, in] ↦ z* [N, hidden], the fixed point of tanh(z·Wᵀ + x·Uᵀ + b) with W = contractive
 * V. `unrolled: K` replaces the implicit layer by K differentiated steps, for comparison.
 */
export function equilibriumLayer(options: EquilibriumOptions) {
  const { inFeatures, hidden, scale = 0.8, dtype = "float32" } = options;
  for (const [name, value] of [
    ["inFeatures", inFeatures],
    ["hidden", hidden],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw argumentError("equilibriumLayer", `${name} must be a positive integer, got ${value}`);
    }
  }
  if (typeof scale !== "number" || !(scale > 0 && scale < 1)) {
    throw argumentError("equilibriumLayer", `scale must be in (0, 1) to contract, got ${scale}`);
  }
  const implicit = fixedPoint(options);
  const mapParams = (p: EquilibriumParams): MapParams => ({
    W: contractiveWeight(p.V, scale),
    U: p.U,
    b: p.b,
  });
  return {
    init: (rng: Rng): EquilibriumParams => ({
      V: rng.normal([hidden, hidden], { dtype }),
      U: rng.normal([hidden, inFeatures], { dtype, std: 1 / Math.sqrt(inFeatures) }),
      b: zeros([hidden], dtype),
    }),
    apply: (p: EquilibriumParams, x: Tensor, mode: { unrolled?: number } = {}): Tensor =>
      mode.unrolled === undefined
        ? implicit(mapParams(p), x)
        : unrolledFixedPoint(mapParams(p), x, mode.unrolled),
  };
}

function checkSolverOptions({ tolerance, maxIterations, onSolve }: SolverOptions): void {
  if (tolerance !== undefined && !(typeof tolerance === "number" && tolerance > 0)) {
    throw argumentError("fixedPoint", `tolerance must be a number > 0, got ${tolerance}`);
  }
  if (maxIterations !== undefined && !(Number.isSafeInteger(maxIterations) && maxIterations > 0)) {
    throw argumentError(
      "fixedPoint",
      `maxIterations must be a positive integer, got ${maxIterations}`,
    );
  }
  if (onSolve !== undefined && typeof onSolve !== "function") {
    throw argumentError("fixedPoint", `onSolve must be a function, got ${typeof onSolve}`);
  }
}
