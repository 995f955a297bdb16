import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import type { TimingOptions } from "./timing.js";

// Runs one of the scripts/*_torch.py peers with Debian's PyTorch and reads the JSON line it
// prints. The scripts time their steps with the same repetition rule as timing.ts
// (scripts/torch_bench.py) on TORCH_THREADS threads.

export const PYTHON = "/usr/bin/python3";
export const TORCH_THREADS = 2;

/** What every PyTorch peer script reports about its process, beside its own timings. */
export interface TorchProcess {
  readonly torch: string;
  readonly threads: number;
  /** The BLAS libraries PyTorch's process mapped: its linear layers' GEMMs run there. */
  readonly blas: string | null;
  readonly matmulGflops: number;
}

/**
 * The script's JSON result, or why there is none (no python, no torch, the script failed);
 * `args` are the script's own arguments.
 */
export function runTorch<T extends TorchProcess>(
  script: string,
  timing: TimingOptions,
  args: readonly string[] = [],
): T | string {
  try {
    execFileSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    return missing ? `no ${PYTHON}` : `${PYTHON} has no torch`;
  }
  const flags = [
    ["--threads", TORCH_THREADS],
    ["--warmup", timing.warmup],
    ["--warmup-budget-ms", timing.warmupBudgetMs],
    ["--min-runs", timing.minRuns],
    ["--max-runs", timing.maxRuns],
    ["--budget-ms", timing.budgetMs],
  ].flatMap(([flag, value]) => [String(flag), String(value)]);
  try {
    const out = execFileSync(PYTHON, [script, "--json", ...flags, ...args], { encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").at(-1)!) as T;
  } catch (error) {
    return `${script.split("/").at(-1)} failed: ${(error as Error).message.split("\n")[0]}`;
  }
}

/** "torch 1.13.0, 2 threads; BLAS …(512³ matmul … GFLOP/s)", or "none: why". */
function describeTorch(result: TorchProcess | string): string {
  return typeof result === "string"
    ? `none: ${result}`
    : `${result.torch}, ${result.threads} threads; BLAS ${result.blas ?? "unknown"} ` +
        `(512³ matmul ${result.matmulGflops.toFixed(1)} GFLOP/s)`;
}

/**
 * The table a bench script with a PyTorch peer prints first: the machine, its load when the
 * script started (`load`: os.loadavg() then), Node, the backend, PyTorch and the run's length.
 */
export function printMachine(
  load: readonly number[],
  backend: string,
  torch: TorchProcess | string,
  seconds: number,
): void {
  console.log("| machine | value |");
  console.log("| --- | --- |");
  console.log(`| CPU | ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} logical cores |`);
  console.log(
    `| load average | ${load.map((x) => x.toFixed(1)).join(" ")} at the start of the run |`,
  );
  console.log(`| Node | ${process.version} |`);
  console.log(`| tapegrad backend | ${backend} |`);
  console.log(`| PyTorch | ${describeTorch(torch)} |`);
  console.log(`| run time | ${seconds.toFixed(0)} s |`);
  console.log();
}
