// `pnpm kill-test`: crash safety of checkpoints and --resume. Starts the training CLI as a child
// process, kills it (SIGINT or SIGKILL) at random moments again and again, and after every kill
// checks that each checkpoint in the output directory loads whole and that the newest one
// resumes; at the end the kill-and-resume chain must match an uninterrupted run bit for bit.
import { spawn, type ChildProcess } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { prng, treeFlatten, type Rng, type Tensor } from "@tapegrad/autodiff";
import { loadCheckpoint } from "@tapegrad/nn/node";
import { writeFixtureDataset } from "../test/fixture.js";

const HELP = `Usage: pnpm kill-test [options]   (node --import tsx scripts/killTest.ts)

Kills \`pnpm train\` runs on a small generated dataset --kills times in a row, each time with
SIGINT or SIGKILL at a random moment (up to 2 s after spawn, up to 0.6 s after the first
epoch, or the instant one of the first four checkpoint temp files appears), resumes from the
newest checkpoint after each kill, and compares the end of the chain with an uninterrupted run.
A chain that reaches its last epoch before a kill starts over from scratch, so that every kill
happens.

Options:
  --kills N        kills in a row (default 24)
  --epochs N       epochs of the run (default 300; each is --limit/--batch-size steps and
                   ends with a checkpoint, so checkpoints are written every 2 steps)
  --limit N        training images (default 16)
  --batch-size N   batch size (default 8)
  --backend NAME   backend of the children (default js: bit-identical resumes; see
                   docs/reliability.md for wasm)
  --seed N         seed of the kill schedule (default: from the clock, printed)
  --keep           keep the output directories
  --help           show this text`;

type Moment = "early" | "training" | "write";

interface KillRecord {
  readonly index: number;
  readonly signal: NodeJS.Signals;
  readonly moment: Moment;
  /** Milliseconds from spawn to the kill. */
  readonly atMs: number;
  /** The checkpoint the child resumed from (0: a fresh start). */
  readonly resumedFrom: number;
  /** The newest complete checkpoint after the kill. */
  readonly newest: number;
  /** Temporary files the kill left behind: it landed while a checkpoint was being written. */
  readonly tempsLeft: number;
  /** Checkpoint files read back whole after this kill: the newest, and any new or changed. */
  readonly verified: number;
  readonly problem?: string;
}

const trainDir = fileURLToPath(new URL("..", import.meta.url));
const CHECKPOINT = /^checkpoint-epoch-(\d+)\.safetensors$/;
const TEMP = /^\.checkpoint-epoch-(\d+)\.safetensors\.[0-9a-f]+\.tmp$/;
/** A child that has neither been killed nor finished by then has hung. */
const CHILD_TIMEOUT_MS = 300_000;

function integer(name: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer, got "${text}"`);
  }
  return value;
}

interface Child {
  readonly process: ChildProcess;
  /** Resolves with the exit code and signal once the child has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the child wrote to stdout and stderr. */
  output(): string;
  /** Resolves when the child has printed its first "epoch …" line (its first checkpoint is due). */
  readonly trained: Promise<void>;
}

/** Starts `pnpm train` as `node --import tsx src/cli.ts …`, so signals reach Node itself. */
function startCli(args: readonly string[], backend: string): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    cwd: trainDir,
    env: { ...process.env, TAPEGRAD_BACKEND: backend },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  let onTrained = () => {};
  const trained = new Promise<void>((resolve) => (onTrained = resolve));
  child.stdout!.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    if (/^epoch \d+\//m.test(text)) onTrained();
  });
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    },
  );
  return { process: child, exited, output: () => text, trained };
}

/** The epochs of the complete checkpoints in `dir`, ascending, and its leftover temp files. */
function listOutputs(dir: string): { epochs: number[]; temps: string[] } {
  const epochs: number[] = [];
  const temps: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = CHECKPOINT.exec(name);
    if (match) epochs.push(Number(match[1]));
    else if (TEMP.test(name)) temps.push(name);
  }
  return { epochs: epochs.sort((a, b) => a - b), temps };
}

function checkpointPath(dir: string, epoch: number): string {
  return join(dir, `checkpoint-epoch-${epoch}.safetensors`);
}

/** One string per tensor of the training state: path and hex bytes. */
function bits(tree: unknown): string[] {
  return treeFlatten(tree).map(([path, leaf]) => {
    if (typeof leaf === "number") return `${path}=${leaf}`;
    const data = (leaf as Tensor).data;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return `${path}:${bytes.toString("hex")}`;
  });
}

/** metrics.jsonl without the timings, which differ from run to run. */
function metricsOf(dir: string): string[] {
  return readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const m = JSON.parse(line) as Record<string, number>;
      return `${m.epoch} ${m.trainLoss} ${m.testLoss} ${m.testAccuracy}`;
    });
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + rng.nextDouble() * (hi - lo);
}

function hasEnded(child: Child): boolean {
  return child.process.exitCode !== null || child.process.signalCode !== null;
}

/**
 * Kills `child` with `signal` at `moment`: a random time after spawn (early: start-up or the
 * first epochs), a random time after its first epoch (training), or the instant the n-th
 * checkpoint temp file (n from 1 to 4) appears in `out` (write). Resolves, once the child has
 * ended, with the milliseconds from spawn to the kill, or undefined if it ended by itself.
 */
async function killAt(
  child: Child,
  moment: Moment,
  signal: NodeJS.Signals,
  out: string,
  rng: Rng,
): Promise<number | undefined> {
  const spawned = performance.now();
  let killedAt: number | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  const kill = () => {
    if (killedAt !== undefined || hasEnded(child)) return;
    child.process.kill(signal);
    killedAt = performance.now() - spawned;
    watcher?.close();
  };
  if (moment === "early") {
    setTimeout(kill, uniform(rng, 0, 2000)).unref();
  } else if (moment === "training") {
    const delay = uniform(rng, 0, 600);
    void child.trained.then(() => setTimeout(kill, delay).unref());
  } else {
    // Killed from inside the watcher's callback, as soon as inotify reports the temp file.
    const skip = Math.floor(uniform(rng, 0, 4));
    const seen = new Set<string>();
    void child.trained.then(() => {
      if (hasEnded(child)) return;
      watcher = watch(out, (_event, name) => {
        if (name === null || !TEMP.test(name) || seen.has(name)) return;
        seen.add(name);
        if (seen.size > skip) kill();
      });
    });
  }
  await child.exited;
  watcher?.close();
  return killedAt;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kills: { type: "string" },
      epochs: { type: "string" },
      limit: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string" },
      seed: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const kills = integer("kills", values.kills, 24);
  const epochs = integer("epochs", values.epochs, 300);
  const limit = integer("limit", values.limit, 16);
  const batchSize = integer("batch-size", values["batch-size"], 8);
  const backend = values.backend ?? "js";
  const seed = integer("seed", values.seed, Date.now() % 1_000_000);
  const rng = prng(seed);
  const stepsPerEpoch = Math.ceil(limit / batchSize);

  const data = writeFixtureDataset(limit, 16);
  const referenceDir = mkdtempSync(join(tmpdir(), "tapegrad-kill-reference-"));
  const chainDir = mkdtempSync(join(tmpdir(), "tapegrad-kill-chain-"));
  const args = (out: string) => [
    ...["--epochs", String(epochs), "--limit", String(limit)],
    ...["--batch-size", String(batchSize), "--seed", "3", "--data", data, "--out", out],
  ];
  console.log(
    `kill-test: ${kills} kills, ${epochs} epochs × ${stepsPerEpoch} steps (a checkpoint every ` +
      `${stepsPerEpoch} steps), backend ${backend}, schedule seed ${seed}`,
  );

  // The uninterrupted run everything is compared with.
  const started = performance.now();
  const reference = startCli(args(referenceDir), backend);
  const referenceExit = await reference.exited;
  if (referenceExit.code !== 0) {
    console.error(`kill-test: the uninterrupted run failed:\n${reference.output()}`);
    return 1;
  }
  const referenceSeconds = (performance.now() - started) / 1000;
  console.log(`uninterrupted run: ${referenceSeconds.toFixed(1)} s`);

  const records: KillRecord[] = [];
  const checked = new Map<string, string>();
  for (let index = 1; index <= kills; index++) {
    const before = listOutputs(chainDir);
    const resumedFrom = before.epochs.at(-1) ?? 0;
    const resumeArgs =
      resumedFrom > 0 ? ["--resume", checkpointPath(chainDir, resumedFrom)] : ([] as string[]);
    const child = startCli([...args(chainDir), ...resumeArgs], backend);
    const signal: NodeJS.Signals = rng.nextDouble() < 0.5 ? "SIGINT" : "SIGKILL";
    const roll = rng.nextDouble();
    const moment: Moment = roll < 0.2 ? "early" : roll < 0.6 ? "training" : "write";
    const atMs = await killAt(child, moment, signal, chainDir, rng);
    const exit = await child.exited;
    if (atMs === undefined) {
      if (exit.code !== 0) {
        console.log(`kill ${index}: the run failed: ${child.output()}`);
        return 1;
      }
      // The chain reached its last epoch before this kill (fast steps, or kills that landed
      // late): the kills left run on a new chain from scratch, so that all of them happen.
      if (resumedFrom === 0) {
        console.log(`kill ${index}: a fresh run finished before its kill; raise --epochs`);
        return 1;
      }
      console.log(`kill ${index}: the run finished before the kill; a new chain starts`);
      rmSync(chainDir, { recursive: true, force: true });
      mkdirSync(chainDir);
      index--;
      continue;
    }

    // After the kill: every checkpoint file that is new or changed must load whole and hold
    // its own epoch; only temp files may be partial.
    const after = listOutputs(chainDir);
    const problems: string[] = [];
    let verified = 0;
    const newest = after.epochs.at(-1) ?? 0;
    for (const epoch of after.epochs) {
      const path = checkpointPath(chainDir, epoch);
      const stat = statSync(path);
      const key = `${stat.size}:${stat.mtimeMs}`;
      // The newest is read back after every kill, older ones only when new or changed.
      if (epoch !== newest && checked.get(path) === key) continue;
      try {
        const { tree } = await loadCheckpoint(path);
        const saved = (tree as { epoch: number }).epoch;
        if (saved !== epoch) problems.push(`${path} holds epoch ${saved}`);
        checked.set(path, key);
        verified++;
      } catch (error) {
        problems.push(`${path}: ${(error as Error).message}`);
      }
    }
    if (newest < resumedFrom) problems.push(`checkpoint ${resumedFrom} disappeared`);
    // A child that trained an epoch must have said it resumed from the checkpoint it was given.
    const trainedAny = /^epoch \d+\//m.test(child.output());
    const resumed = child.output().includes(`after epoch ${resumedFrom}`);
    if (resumedFrom > 0 && trainedAny && !resumed) problems.push("did not resume");
    if (exit.signal !== signal) problems.push(`ended by ${exit.signal ?? `code ${exit.code}`}`);
    const tempsLeft = after.temps.filter((name) => !before.temps.includes(name)).length;
    const record: KillRecord = {
      index,
      signal,
      moment,
      atMs,
      resumedFrom,
      newest,
      tempsLeft,
      verified,
      ...(problems.length > 0 ? { problem: problems.join("; ") } : {}),
    };
    records.push(record);
    console.log(
      `kill ${index}: ${signal} at ${moment} (${Math.round(atMs)} ms), checkpoints ` +
        `${resumedFrom} → ${newest}${tempsLeft > 0 ? ", mid-write" : ""}` +
        `${record.problem ? `, PROBLEM ${record.problem}` : ""}`,
    );
  }

  // The last resume runs to the end without a kill.
  const newest = listOutputs(chainDir).epochs.at(-1) ?? 0;
  const resumeArgs = newest > 0 ? ["--resume", checkpointPath(chainDir, newest)] : [];
  const last = startCli([...args(chainDir), ...resumeArgs], backend);
  const lastExit = await last.exited;
  const finalOk = lastExit.code === 0;
  console.log(`final resume from checkpoint ${newest}: exit code ${lastExit.code}`);
  if (!finalOk) console.error(last.output());

  const finalPath = checkpointPath(chainDir, epochs);
  const [whole, chained] = await Promise.all([
    loadCheckpoint(checkpointPath(referenceDir, epochs)),
    loadCheckpoint(finalPath),
  ]);
  const training = (c: typeof whole) => (c.tree as { training: unknown }).training;
  const sameState =
    JSON.stringify(bits(training(whole))) === JSON.stringify(bits(training(chained)));
  const sameMetrics =
    JSON.stringify(metricsOf(referenceDir)) === JSON.stringify(metricsOf(chainDir));
  const tempsAtEnd = listOutputs(chainDir).temps.length;

  console.log(
    `\n| kill | signal | moment | ms after spawn | resumed from | newest checkpoint (step) | mid-write | checked | result |`,
  );
  console.log(`| ---: | --- | --- | ---: | ---: | ---: | --- | ---: | --- |`);
  for (const r of records) {
    console.log(
      `| ${r.index} | ${r.signal} | ${r.moment} | ${Math.round(r.atMs)} | ${r.resumedFrom} | ` +
        `${r.newest} (${r.newest * stepsPerEpoch}) | ${r.tempsLeft > 0 ? "yes" : "no"} | ` +
        `${r.verified} | ${r.problem ?? "ok"} |`,
    );
  }
  const count = (f: (r: KillRecord) => boolean) => records.filter(f).length;
  console.log(
    `\n${records.length} kills (${count((r) => r.signal === "SIGINT")} SIGINT, ` +
      `${count((r) => r.signal === "SIGKILL")} SIGKILL; ` +
      `${count((r) => r.moment === "early")} early, ` +
      `${count((r) => r.moment === "training")} in training, ` +
      `${count((r) => r.moment === "write")} aimed at a write, ` +
      `${count((r) => r.tempsLeft > 0)} landed mid-write); ${checked.size} checkpoint files ` +
      `read back whole; ${tempsAtEnd} orphaned temp files (never at a checkpoint path)`,
  );
  console.log(`final resume ran to completion: ${finalOk ? "yes" : "NO"}`);
  console.log(
    `final params, state and optimizer state equal the uninterrupted run's bit for bit: ` +
      `${sameState ? "yes" : "NO"}`,
  );
  console.log(`per-epoch metrics equal the uninterrupted run's: ${sameMetrics ? "yes" : "NO"}`);

  const ok =
    records.length >= kills &&
    records.every((r) => r.problem === undefined) &&
    finalOk &&
    sameState &&
    sameMetrics;
  if (values.keep) console.log(`outputs kept in ${referenceDir} and ${chainDir}`);
  else {
    rmSync(referenceDir, { recursive: true, force: true });
    rmSync(chainDir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
  console.log(ok ? "kill-test: ok" : "kill-test: FAIL");
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`kill-test: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 2;
  },
);
