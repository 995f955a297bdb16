import type { DType, TypedArray } from "../dtype.js";
import { argumentError } from "../errors.js";
import type { AttentionKernels } from "../kernels/attention.js";
import type { ConvKernels } from "../kernels/conv.js";
import type { ElementwiseKernels } from "../kernels/elementwise.js";
import type { LayerNormKernels } from "../kernels/layerNorm.js";
import type { MatmulKernels } from "../kernels/matmul.js";
import type { NormKernels } from "../kernels/norm.js";
import type { OptimKernels } from "../kernels/optim.js";
import type { PoolKernels } from "../kernels/pool.js";
import type { RecurrentKernels } from "../kernels/recurrent.js";
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
    ConvKernels,
    NormKernels,
    LayerNormKernels,
    OptimKernels,
    AttentionKernels,
    RecurrentKernels {}

/** A named set of kernels. A backend may implement only the hot ones; the rest fall back to js. */
export interface Backend {
  /** Unique name, as setBackend and TAPEGRAD_BACKEND take it: "js", "wasm", … */
  readonly name: string;
  /** The kernels this backend implements; any it leaves out come from the js backend. */
  readonly kernels: Partial<Kernels>;
  /** The automatic choice is the available backend of highest priority (default 0, as js). */
  readonly priority?: number;
  /** Whether this host can run the backend (default: yes), e.g. has WebAssembly SIMD. */
  readonly isAvailable?: () => boolean;
  /**
   * A buffer for jit's memory plan, which replays of a program share, where the backend keeps
   * one best (the wasm backend: in its kernels' memory, which they then read and write without
   * copies); undefined for an ordinary typed array.
   */
  readonly planned?: (dtype: DType, size: number) => TypedArray | undefined;
}

const backends = new Map<string, Backend>();
let fallback: Kernels | undefined;
/** The backend in use; undefined until the first kernel call makes the automatic choice. */
let active: Backend | undefined;
/** Set by setBackend; else the environment variable TAPEGRAD_BACKEND, else priority decides. */
let chosenName: string | undefined;
let resolved: Kernels | undefined;

/** Registers a backend; `isFallback` marks the complete one every other falls back to. */
export function registerBackend(backend: Backend, isFallback = false): void {
  backends.set(backend.name, backend);
  if (isFallback) fallback = backend.kernels as Kernels;
  // Re-choose on the next kernel call: the newcomer may be the named or the fastest backend.
  if (chosenName === undefined || chosenName === backend.name) {
    active = undefined;
    resolved = undefined;
  }
}

function lookUp(caller: string, name: string, source: string): Backend {
  const backend = backends.get(name);
  if (backend === undefined) {
    throw argumentError(
      caller,
      `unknown backend "${name}"${source}; registered: ${[...backends.keys()].join(", ")}`,
    );
  }
  if (backend.isAvailable !== undefined && !backend.isAvailable()) {
    throw argumentError(caller, `backend "${name}"${source} cannot run on this host`);
  }
  return backend;
}

/** Makes `name` the backend every op uses from now on, overriding TAPEGRAD_BACKEND. */
export function setBackend(name: string): void {
  active = lookUp("setBackend", name, "");
  chosenName = name;
  resolved = undefined;
}

/**
 * The backend setBackend named, else the one TAPEGRAD_BACKEND names (Node), else the available
 * backend of highest priority: wasm where WebAssembly SIMD works, else js.
 */
function activeBackend(): Backend | undefined {
  if (active !== undefined) return active;
  const fromEnvironment =
    typeof process === "undefined" ? undefined : process.env?.TAPEGRAD_BACKEND;
  if (chosenName !== undefined) {
    active = lookUp("setBackend", chosenName, "");
  } else if (fromEnvironment !== undefined && fromEnvironment !== "") {
    active = lookUp("kernels", fromEnvironment, " (from TAPEGRAD_BACKEND)");
  } else {
    for (const backend of backends.values()) {
      const better = active === undefined || (backend.priority ?? 0) > (active.priority ?? 0);
      if (better && (backend.isAvailable?.() ?? true)) active = backend;
    }
  }
  return active;
}

/** The name of the backend in use. */
export function getBackend(): string {
  return activeBackend()?.name ?? "js";
}

/** The names of all registered backends, in registration order (available or not). */
export function listBackends(): string[] {
  return [...backends.keys()];
}

/** @internal A buffer for jit's memory plan from the backend in use (see Backend.planned). */
export function plannedBuffer(dtype: DType, size: number): TypedArray | undefined {
  return activeBackend()?.planned?.(dtype, size);
}

/** The kernel table in use: the active backend's kernels over the js fallback. */
export function kernels(): Kernels {
  if (resolved === undefined) {
    if (fallback === undefined) throw argumentError("kernels", "no backend is registered");
    resolved = { ...fallback, ...activeBackend()?.kernels };
  }
  return resolved;
}
