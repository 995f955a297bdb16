import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { wasmAvailable } from "@tapegrad/autodiff";
import { writeFixtureDataset } from "./fixture.js";

// The CLI never calls process.exit on success: it returns from main() and Node exits once
// nothing keeps the event loop alive. A leaked timer, an open handle or a worker thread that is
// not unref'ed (the wasm backend's pool) would keep it running forever, which this test catches.

const trainDir = fileURLToPath(new URL("..", import.meta.url));
const data = writeFixtureDataset(128, 32);
/** Generous: the machine is shared, and tsx compiles the sources on the child's first run. */
const EXIT_TIMEOUT_MS = 90_000;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly timedOut: boolean;
}

/** Runs `pnpm train` (as `node --import tsx src/cli.ts`) and waits for the process to end. */
function runCli(env: Record<string, string>, args: string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: trainDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, EXIT_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, timedOut });
    });
  });
}

const backends = [
  { name: "js", available: true },
  // Two threads at least, so the worker pool starts even on a one-core machine.
  { name: "wasm", available: wasmAvailable(), threads: "2" },
];

describe("a training run as its own process", () => {
  for (const backend of backends) {
    it.skipIf(!backend.available)(
      `exits by itself with code 0 on the ${backend.name} backend`,
      async () => {
        const out = mkdtempSync(join(tmpdir(), `exit-${backend.name}-`));
        const env: Record<string, string> = { TAPEGRAD_BACKEND: backend.name };
        if (backend.threads !== undefined) env.TAPEGRAD_THREADS = backend.threads;
        const args = ["--epochs", "2", "--limit", "128", "--data", data, "--out", out];
        const result = await runCli(env, args);

        expect(
          result.timedOut,
          `still running after ${EXIT_TIMEOUT_MS} ms:\n${result.output}`,
        ).toBe(false);
        expect({ code: result.code, signal: result.signal }, result.output).toEqual({
          code: 0,
          signal: null,
        });
        expect(result.output).toContain(`backend ${backend.name}`);
        expect(result.output).toMatch(/done: lenet test accuracy/);
        expect(existsSync(join(out, "checkpoint-epoch-2.safetensors"))).toBe(true);
      },
      EXIT_TIMEOUT_MS + 30_000,
    );
  }

  it(
    "reads relative paths against the caller's directory (pnpm's INIT_CWD), not packages/train",
    async () => {
      const caller = mkdtempSync(join(tmpdir(), "caller-"));
      const env = { TAPEGRAD_BACKEND: "js", INIT_CWD: caller };
      const first = await runCli(env, [
        "--epochs",
        "1",
        "--limit",
        "64",
        "--data",
        data,
        "--out",
        "runs/a",
      ]);
      expect(first.code, first.output).toBe(0);
      const checkpoint = join(caller, "runs/a/checkpoint-epoch-1.safetensors");
      expect(existsSync(checkpoint), first.output).toBe(true);
      const resumed = await runCli(env, [
        ...["--epochs", "2", "--limit", "64", "--data", data],
        ...["--out", "runs/a", "--resume", "runs/a/checkpoint-epoch-1.safetensors"],
      ]);
      expect(resumed.code, resumed.output).toBe(0);
      expect(existsSync(join(caller, "runs/a/checkpoint-epoch-2.safetensors"))).toBe(true);
      expect(existsSync(join(trainDir, "runs/a"))).toBe(false);
    },
    2 * EXIT_TIMEOUT_MS,
  );
});
