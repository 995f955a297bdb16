// What anomaly mode costs. Three variants of the same sources run the same workloads:
//   stripped  the anomaly checks cut out of the hot path (registry, tape): as before the feature,
//   off       as shipped, anomaly mode off (the default): a boolean test per op and per vjp,
//   on        as shipped, inside detectAnomaly: every output and gradient scanned, and a stack
//             trace captured per recorded op.
// Workloads: a chain of 200 elementwise ops on 16 elements, forward and backward (per-op
// overhead dominates), and a LeNet-5-like forward and backward on a batch of 8 (kernels
// dominate), on the js backend. Each variant runs in its own process (several module copies in
// one process bias the timings by load order), processes interleaved; each cell is the best
// per-step time over all of a variant's processes, as other load only ever adds time.
// Run: npx -y pnpm@10 --filter @tapegrad/bench run anomaly-overhead [processes per variant,
// default 5]
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Autodiff from "@tapegrad/autodiff";

type Library = typeof Autodiff;
type Step = () => void;
type Variant = "stripped" | "off" | "on";

const WORKLOADS = ["200-op chain, fwd+bwd", "LeNet-5 batch 8, fwd+bwd"] as const;

/**
 * A copy of src/ under `root`; with `strip`, the anomaly checks are cut out of the hot path, as
 * before the feature. Both variants are copies, so both compile under the same settings.
 */
function copyOfSource(root: string, name: string, strip: boolean): string {
  const src = join(root, name, "src");
  // The sources themselves, not the package entry: the variants are edited copies of them.
  cpSync(fileURLToPath(new URL("../../autodiff/src/", import.meta.url)), src, { recursive: true });
  if (!strip) return join(src, "index.ts");
  const cut = (file: string, from: string | RegExp, to: string) => {
    const path = join(src, file);
    const text = readFileSync(path, "utf8");
    const cutText = text.replace(from, to);
    if (cutText === text) throw new Error(`anomaly-overhead: ${String(from)} not in ${file}`);
    writeFileSync(path, cutText);
  };
  cut("registry.ts", "if (anomalyMode) checkForward(op, inputs, applied.ys);", "");
  cut(
    "registry.ts",
    "const site = anomalyMode || keepingCallSites ? captureSite() : undefined;",
    "const site = undefined;",
  );
  cut(
    "tape.ts",
    /const grads = anomalyMode\s*\?[\s\S]*?: node\.op\.vjp!\(ctx\);/,
    "const grads = node.op.vjp!(ctx);",
  );
  return join(src, "index.ts");
}

/** 100 × (mul, add) on 16 elements, then sum: forward and backward of 201 ops. */
function chainStep(ad: Library): Step {
  const x = ad.tensor(Array.from({ length: 16 }, (_, i) => i / 16));
  const f = (v: Autodiff.Tensor) => {
    let y = v;
    for (let i = 0; i < 100; i++) y = ad.add(ad.mul(y, 1.0001), 0.001);
    return ad.sum(y);
  };
  const g = ad.grad(f);
  return () => void g(x);
}

/** LeNet-5 on [8, 1, 28, 28] float32: two conv+relu+pool, three matmuls, log-softmax loss. */
function lenetStep(ad: Library): Step {
  const rng = ad.prng(0);
  const normal = (shape: number[], scale: number) =>
    ad.mul(rng.normal(shape, { dtype: "float32" }), scale);
  const params = {
    c1: normal([6, 1, 5, 5], 0.2),
    c2: normal([16, 6, 5, 5], 0.08),
    f1: normal([120, 256], 0.06),
    f2: normal([84, 120], 0.09),
    f3: normal([10, 84], 0.1),
  };
  const x = rng.normal([8, 1, 28, 28], { dtype: "float32" });
  const labels = ad.oneHot([1, 2, 3, 4, 5, 6, 7, 8], 10);
  const loss = (p: typeof params) => {
    let h = ad.maxPool2d(ad.relu(ad.conv2d(x, p.c1)), { kernelSize: 2 });
    h = ad.maxPool2d(ad.relu(ad.conv2d(h, p.c2)), { kernelSize: 2 });
    h = ad.flatten(h);
    h = ad.relu(ad.matmul(h, p.f1, { transB: true }));
    h = ad.relu(ad.matmul(h, p.f2, { transB: true }));
    const logits = ad.matmul(h, p.f3, { transB: true });
    return ad.neg(ad.mean(ad.sum(ad.mul(ad.logSoftmax(logits), labels), { axis: 1 })));
  };
  const g = ad.grad(loss);
  return () => void g(params);
}

/** The best ms per step over `rounds` rounds of `steps` steps, after one round of warm-up. */
function time(step: Step, steps: number, rounds: number): number {
  let best = Infinity;
  for (let r = 0; r <= rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < steps; i++) step();
    if (r > 0) best = Math.min(best, (performance.now() - start) / steps);
  }
  return best;
}

/** Child process: times both workloads for one variant and prints them as JSON. */
async function child(variant: Variant, entry: string): Promise<void> {
  const ad = (await import(entry)) as Library;
  ad.setBackend("js");
  const wrap = (step: Step): Step => (variant === "on" ? () => ad.detectAnomaly(step) : step);
  const results = [time(wrap(chainStep(ad)), 20, 40), time(wrap(lenetStep(ad)), 3, 20)];
  console.log(JSON.stringify(results));
}

async function main(): Promise<void> {
  const processes = Number(process.argv[2] ?? 5);
  const root = mkdtempSync(join(tmpdir(), "tapegrad-anomaly-overhead-"));
  try {
    const shipped = copyOfSource(root, "shipped", false);
    const entries: Record<Variant, string> = {
      stripped: copyOfSource(root, "stripped", true),
      off: shipped,
      on: shipped,
    };
    const best: Record<Variant, number[]> = {
      stripped: [Infinity, Infinity],
      off: [Infinity, Infinity],
      on: [Infinity, Infinity],
    };
    const script = fileURLToPath(import.meta.url);
    for (let p = 0; p < processes; p++) {
      for (const variant of ["stripped", "off", "on"] as const) {
        const out = execFileSync(
          process.execPath,
          ["--import", "tsx", script, `--variant=${variant}`, entries[variant]],
          { encoding: "utf8" },
        );
        const times = JSON.parse(out.trim().split("\n").pop()!) as number[];
        best[variant] = best[variant].map((b, i) => Math.min(b, times[i]!));
      }
    }
    console.log(
      `anomaly mode overhead, Node ${process.version}, js backend, best ms per step ` +
        `(${processes} processes per variant)`,
    );
    console.log(
      `${"workload".padEnd(26)}${"stripped".padStart(10)}${"off".padStart(10)}` +
        `${"on".padStart(10)}${"off/stripped".padStart(14)}${"on/off".padStart(9)}`,
    );
    WORKLOADS.forEach((name, i) => {
      const [s, f, n] = [best.stripped[i]!, best.off[i]!, best.on[i]!];
      console.log(
        `${name.padEnd(26)}${s.toFixed(3).padStart(10)}${f.toFixed(3).padStart(10)}` +
          `${n.toFixed(3).padStart(10)}${`${((f / s - 1) * 100).toFixed(1)}%`.padStart(14)}` +
          `${`${(n / f).toFixed(2)}×`.padStart(9)}`,
      );
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const variant = process.argv.find((a) => a.startsWith("--variant="))?.slice("--variant=".length);
if (variant === undefined) await main();
else await child(variant as Variant, process.argv[process.argv.length - 1]!);
