import { argumentError } from "../errors.js";
import type { ConvKernels } from "../kernels/conv.js";
import type { ElementwiseKernels } from "../kernels/elementwise.js";
import type { MatmulKernels } from "../kernels/matmul.js";
import type { PoolKernels } from "../kernels/pool.js";
import type { ReduceKernels } from "../kernels/reduce.js";
import type { ShapeKernels } from "../kernels/shape.js";
import type { SoftmaxKernels } from "../kernels/softmax.js";

/**
 * Every numeric kernel an op may call. Kernels work on typed arrays and plain numbers only:
 * they know nothing of tensors, tapes or the registry, so a backend can replace any of them.
 */
export interface Kernels
  extends
    ElementwiseKernels,
    ReduceKernels,
    ShapeKernels,
    MatmulKernels,
    SoftmaxKernels,
    PoolKernels,
    ConvKernels {}

/** A named set of kernels. A backend may implement only the hot ones; the rest fall back to js. */
export interface Backend {
  readonly name: string;
  readonly kernels: Partial<Kernels>;
}

const backends = new Map<string, Backend>();
let fallback: Kernels | undefined;
let active: Backend | undefined;
let resolved: Kernels | undefined;

/** Registers a backend; `isFallback` marks the complete one every other falls back to. */
export function registerBackend(backend: Backend, isFallback = false): void {
  backends.set(backend.name, backend);
  if (isFallback) fallback = backend.kernels as Kernels;
  if (active === undefined || active.name === backend.name) {
    active = backend;
    resolved = undefined;
  }
}

/** Makes `name` the backend every op uses from now on. */
export function setBackend(name: string): void {
  const backend = backends.get(name);
  if (backend === undefined) {
    throw argumentError(
      "setBackend",
      `unknown backend "${name}"; registered: ${[...backends.keys()].join(", ")}`,
    );
  }
  active = backend;
  resolved = undefined;
}

/** The name of the backend in use. */
export function getBackend(): string {
  return active?.name ?? "js";
}

export function listBackends(): string[] {
  return [...backends.keys()];
}

/** The kernel table in use: the active backend's kernels over the js fallback. */
export function kernels(): Kernels {
  if (resolved === undefined) {
    if (fallback === undefined) throw argumentError("kernels", "no backend is registered");
    resolved = { ...fallback, ...active?.kernels };
  }
  return resolved;
}
