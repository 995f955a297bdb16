// Newton's method, x ← x − H(x)⁻¹·∇f(x), on a smooth strictly convex function of three
// variables, f(x) = log Σᵢ exp(aᵢ·x + bᵢ) + ½‖x‖². Near the minimum the error roughly squares at
// every step (quadratic convergence), the signature of exact second derivatives. `hessian`
// builds H as jacfwd(jacrev(f)), forward over reverse; the matrix-free variant never forms H and
// solves H·d = ∇f by conjugate gradients, one Hessian-vector product (`hvp`) per iteration.
//
//   tsx newton.ts [--hvp]
import { pathToFileURL } from "node:url";
import {
  add,
  grad,
  hessian,
  hvp,
  logSumExp,
  matmul,
  mul,
  square,
  sub,
  sum,
  tensor,
  type Tensor,
} from "@tapegrad/autodiff";

const A = tensor(
  [
    [2, -1, 0.5],
    [-1.5, 0.5, 2],
    [1, 2, -1],
    [0.5, -2, -1.5],
  ],
  { dtype: "float64" },
);
const B = tensor([0.3, -0.2, 0.1, 0.5], { dtype: "float64" });

/** log Σᵢ exp((A·x + b)ᵢ) + ½‖x‖²: its Hessian is a softmax covariance plus I, so f is convex. */
export function objective(x: Tensor): Tensor {
  return add(logSumExp(add(matmul(A, x), B)), mul(0.5, sum(square(x))));
}

/** Solves M·d = g for a small dense M (row-major n×n) by Gaussian elimination with pivoting. */
export function solve(M: ArrayLike<number>, g: ArrayLike<number>): number[] {
  const n = g.length;
  const rows = Array.from({ length: n }, (_, i) => [
    ...Array.from({ length: n }, (_, j) => M[i * n + j]!),
    g[i]!,
  ]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(rows[r]![col]!) > Math.abs(rows[pivot]![col]!)) pivot = r;
    }
    [rows[col], rows[pivot]] = [rows[pivot]!, rows[col]!];
    for (let r = col + 1; r < n; r++) {
      const k = rows[r]![col]! / rows[col]![col]!;
      for (let c = col; c <= n; c++) rows[r]![c]! -= k * rows[col]![c]!;
    }
  }
  const d = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = rows[r]![n]!;
    for (let c = r + 1; c < n; c++) s -= rows[r]![c]! * d[c]!;
    d[r] = s / rows[r]![r]!;
  }
  return d;
}

/** Solves H·d = g by conjugate gradients, H given only as v ↦ H·v (exact in n steps for n×n). */
export function conjugateGradients(
  product: (v: readonly number[]) => number[],
  g: readonly number[],
): number[] {
  const dot = (a: readonly number[], b: readonly number[]) =>
    a.reduce((s, v, i) => s + v * b[i]!, 0);
  const d = g.map(() => 0);
  let r = [...g];
  let p = [...g];
  let rr = dot(r, r);
  for (let k = 0; k < g.length && rr > 0; k++) {
    const hp = product(p);
    const alpha = rr / dot(p, hp);
    p.forEach((v, i) => (d[i]! += alpha * v));
    r = r.map((v, i) => v - alpha * hp[i]!);
    const next = dot(r, r);
    p = r.map((v, i) => v + (next / rr) * p[i]!);
    rr = next;
  }
  return d;
}

export interface NewtonOptions {
  readonly start?: readonly number[];
  /** Stop once ‖∇f‖ is at most this (default 1e-12: rounding noise is about 1e-16). */
  readonly tolerance?: number;
  readonly maxIterations?: number;
  /** Matrix-free: conjugate gradients on hvp instead of forming the Hessian. */
  readonly useHvp?: boolean;
}

export interface NewtonIterate {
  readonly iteration: number;
  readonly x: readonly number[];
  /** ‖∇f(x)‖. */
  readonly gradientNorm: number;
  /** ‖x − x*‖, with x* the last iterate (where ‖∇f‖ ≤ tolerance). */
  readonly error: number;
}

const f64 = (values: readonly number[]) => tensor([...values], { dtype: "float64" });
const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));

/** Newton's method on `objective` from `start`; every iterate with its gradient norm and error. */
export function newton(options: NewtonOptions = {}): NewtonIterate[] {
  const { start = [1, 1, 1], tolerance = 1e-12, maxIterations = 20, useHvp = false } = options;
  const gradient = grad(objective);
  const H = hessian(objective);
  const xs: number[][] = [[...start]];
  const gradientNorms: number[] = [];
  for (let k = 0; ; k++) {
    const x = f64(xs[k]!);
    const g = Array.from(gradient(x).data);
    gradientNorms.push(norm(g));
    if (gradientNorms[k]! <= tolerance || k === maxIterations) break;
    const d = useHvp
      ? conjugateGradients((v) => Array.from(hvp(objective, [x], [f64(v)])[0].data), g)
      : solve(H(x).data, g);
    xs.push(xs[k]!.map((v, i) => v - d[i]!));
  }
  const star = xs[xs.length - 1]!;
  return xs.map((x, iteration) => ({
    iteration,
    x,
    gradientNorm: gradientNorms[iteration]!,
    error: norm(x.map((v, i) => v - star[i]!)),
  }));
}

/** One line per iterate, with e_k / e_{k−1}², which stays bounded under quadratic convergence. */
export function formatIterates(iterates: readonly NewtonIterate[]): string[] {
  return iterates.map((it, k) => {
    const previous = iterates[k - 1];
    const ratio =
      previous !== undefined && it.error > 0
        ? `, e/e_prev² ${(it.error / previous.error ** 2).toFixed(2)}`
        : "";
    const x = it.x.map((v) => v.toFixed(15).padStart(18)).join(", ");
    return (
      `iteration ${k}: x = (${x}), ‖∇f‖ ${it.gradientNorm.toExponential(2)}, ` +
      `error ${it.error.toExponential(2)}${ratio}`
    );
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const useHvp = process.argv.includes("--hvp");
  console.log(
    `Newton's method on log Σ exp(A·x + b) + ½‖x‖² in 3-D from (1, 1, 1), ` +
      `${useHvp ? "conjugate gradients on hvp" : "hessian + a dense solve"}:\n`,
  );
  for (const line of formatIterates(newton({ useHvp }))) console.log(line);
}
