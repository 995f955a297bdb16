import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { wasmAvailable, wasmThreads } from "@tapegrad/autodiff";
import { jaxPeer } from "./jax.js";
import { Unsupported, failureReason, type Outputs, type Peer } from "./peer.js";
import {
  AGREEMENT_RTOL,
  compare,
  disagrees,
  consoleHeader,
  consoleLine,
  epochSeconds,
  formatMs,
  formatRatio,
  formatSeconds,
  gflops,
  isScaled,
  markdownTables,
  metText,
  type Agreement,
  type Cell,
  type Row,
  type Target,
} from "./report.js";
import { tapegradPeer } from "./tapegrad.js";
import { tfjsPeer } from "./tfjs.js";
import { timeCell } from "./timing.js";
import {
  EPOCH_IMAGES,
  batchOf,
  isScalable,
  passName,
  workloadKey,
  workloadName,
  workloads,
  type Workload,
} from "./workloads.js";

/**
 * One process, every peer, the same workloads: tapegrad on each backend (js; wasm on all
 * threads; wasm on one thread), TensorFlow.js on its cpu and wasm backends, and jax-js on its
 * wasm device. Prints one table of medians with tapegrad-wasm's speed-up over each peer, the
 * implied LeNet epoch, the targets (met or not) and the agreement of every peer's
 * results with tapegrad's. Options (environment variables):
 *
 * - `BENCH_FULL=1`: time every cell at full size, however slow (no scaled `*` cells);
 * - `BENCH_FILTER=text`: only the workloads whose name contains `text` (e.g. `conv`, `LeNet`);
 * - `BENCH_MARKDOWN=path`: also write the results as markdown tables (for docs/performance.md).
 */

/** A peer that failed to load: every cell shows why. */
function unavailablePeer(name: string, error: unknown): Peer {
  const reason = `unavailable: ${failureReason(error)}`;
  return {
    name,
    detail: reason,
    activate: async () => {},
    prepare: () => {
      throw new Unsupported(reason);
    },
  };
}

async function loadPeer(name: string, load: () => Promise<Peer>): Promise<Peer> {
  try {
    return await load();
  } catch (error) {
    return unavailablePeer(name, error);
  }
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

const threads = wasmAvailable() ? wasmThreads() : 1;
const reference = tapegradPeer("wasm", threads);
const peers: Peer[] = [
  reference,
  ...(threads > 1 ? [tapegradPeer("wasm", 1)] : []),
  tapegradPeer("js"),
  await loadPeer("tfjs cpu", () => tfjsPeer("cpu")),
  await loadPeer("tfjs wasm", () => tfjsPeer("wasm")),
  await loadPeer("jax-js", jaxPeer),
];

const filter = process.env["BENCH_FILTER"];
const selected = workloads.filter((w) => filter === undefined || workloadKey(w).includes(filter));

const machine = {
  cpu: `${cpus()[0]?.model ?? "unknown CPU"}`,
  cores: availableParallelism(),
  node: process.version,
  load: loadavg()
    .map((v) => v.toFixed(1))
    .join(" "),
  commit: gitCommit(),
};
console.log(
  `tapegrad vs TensorFlow.js vs jax-js, float32, one process — ${machine.cpu}, ` +
    `${machine.cores} cores, Node ${machine.node}, load average ${machine.load}, ` +
    `commit ${machine.commit}`,
);
for (const peer of peers) console.log(`  ${peer.name.padEnd(18)}${peer.detail}`);
console.log(
  "Each cell: the median wall time of one call (results read back) over adaptive repetitions;\n" +
    "* = timed on a smaller batch and scaled linearly. Speed-up = peer time / reference time.",
);
console.log();
console.log(consoleHeader(reference.name));

const started = performance.now();
const rows: Row[] = [];
const scaledNotes: string[] = [];
const disagreements: string[] = [];
for (const w of selected) {
  const cells = new Map<string, Cell>();
  const batch = batchOf(w);
  // The reference's results per batch size, computed when a peer's check needs them.
  const refCache = new Map<number, Outputs | string>();
  const refAt = async (n: number): Promise<Outputs | string> => {
    if (!refCache.has(n)) {
      try {
        await reference.activate();
        refCache.set(n, reference.prepare(w, n).outputs());
      } catch (error) {
        refCache.set(n, failureReason(error));
      }
    }
    return refCache.get(n)!;
  };
  let first = true;
  for (const peer of peers) {
    let cell: Cell;
    try {
      await peer.activate();
      const { timing, prepared } = timeCell((n) => peer.prepare(w, n), batch ?? 1, isScalable(w));
      // The agreement check reads one more call's results, at the batch the cell ran at.
      let outputs: Outputs | undefined;
      let checkError: string | undefined;
      try {
        outputs = prepared.outputs();
      } catch (error) {
        checkError = failureReason(error);
      } finally {
        prepared.dispose();
      }
      const agreement: Record<string, Agreement> = {};
      if (outputs !== undefined && peer !== reference) {
        const ref = await refAt(timing.batch);
        if (typeof ref === "string") checkError = `reference failed: ${ref}`;
        else for (const key of Object.keys(ref)) agreement[key] = compare(outputs[key], ref[key]!);
      } else if (outputs !== undefined) {
        refCache.set(timing.batch, outputs);
      }
      cell = { ok: true, timing, agreement, checkError };
    } catch (error) {
      cell = { ok: false, reason: failureReason(error) };
    }
    cells.set(peer.name, cell);
    if (cell.ok && isScaled(w, cell)) {
      scaledNotes.push(
        `${peer.name}, ${workloadName(w)} ${passName(w)}: timed at N=${cell.timing.batch} of ${batch}`,
      );
    }
    if (cell.ok && disagrees(cell)) {
      disagreements.push(`${peer.name}, ${workloadName(w)} ${passName(w)}`);
    }
    console.log(
      consoleLine(w, first, peer.name, cell, cells.get(reference.name), peer === reference),
    );
    first = false;
  }
  rows.push({ workload: w, cells });
  console.log();
}
for (const note of scaledNotes) console.log(`* ${note} (BENCH_FULL=1: full size)`);
for (const note of disagreements) {
  console.log(`! ${note}: results differ from ${reference.name}'s (see the agreement table)`);
}
console.log();

// The LeNet step per epoch.
const lenetRow = rows.find((r) => r.workload.kind === "lenet");
if (lenetRow !== undefined && lenetRow.workload.kind === "lenet") {
  const n = lenetRow.workload.n;
  console.log(
    `LeNet-5, implied seconds per Fashion-MNIST epoch (${EPOCH_IMAGES} images, ` +
      `${EPOCH_IMAGES / n} steps of ${n}):`,
  );
  for (const [name, cell] of lenetRow.cells) {
    if (!cell.ok) continue;
    const s = epochSeconds(n, cell.timing.medianMs);
    const rate = (n / cell.timing.medianMs) * 1000;
    console.log(
      `  ${name.padEnd(18)}${formatSeconds(s).padStart(8)} s/epoch ${rate.toFixed(0).padStart(8)} images/s`,
    );
  }
  console.log();
}

// The transforms against their baselines, timed in this run: per peer, each row's time over its
// group's baseline row (vmap(grad) and the loop of grad over one batched gradient; the loop of
// hvp over hessian).
const baselines: Partial<Record<Workload["kind"], string>> = {
  perExample: "batched grad",
  hessian: "hessian",
};
for (const [kind, baseline] of Object.entries(baselines)) {
  const group = rows.filter((r) => r.workload.kind === kind);
  const base = group.find((r) => passName(r.workload) === baseline);
  if (base === undefined || group.length < 2) continue;
  console.log(`${workloadName(base.workload)}: time / ${baseline} time (same run):`);
  for (const row of group) {
    if (row === base) continue;
    const ratios = peers.flatMap((peer) => {
      const cell = row.cells.get(peer.name);
      const ref = base.cells.get(peer.name);
      if (!cell?.ok || !ref?.ok) return [];
      return [`${peer.name} ${formatRatio(cell.timing.medianMs / ref.timing.medianMs)}`];
    });
    console.log(`  ${passName(row.workload).padEnd(14)}${ratios.join(", ") || "—"}`);
  }
  console.log();
}

// The targets, on the reference (tapegrad wasm on all threads).
const cellOf = (kind: Workload["kind"], match: (w: Workload) => boolean, peer: string) => {
  const row = rows.find((r) => r.workload.kind === kind && match(r.workload));
  const cell = row?.cells.get(peer);
  return cell?.ok ? { cell, w: row!.workload } : undefined;
};
const targets: Target[] = [];
{
  const ref = cellOf("lenet", () => true, reference.name);
  const tfcpu = cellOf("lenet", () => true, "tfjs cpu");
  const ms = ref?.cell.timing.medianMs;
  targets.push({
    text: "LeNet-5 step at batch 64 ≤ 10 ms",
    measured: ms === undefined ? "—" : `${formatMs(ms)} ms`,
    met: ms === undefined ? undefined : ms <= 10,
  });
  const speedup = ms !== undefined && tfcpu ? tfcpu.cell.timing.medianMs / ms : undefined;
  targets.push({
    text: "LeNet-5 step at batch 64 ≥ 100× faster than tfjs cpu",
    measured: speedup === undefined ? "—" : formatRatio(speedup),
    met: speedup === undefined ? undefined : speedup >= 100,
  });
  const conv = cellOf(
    "conv",
    (w) => w.kind === "conv" && w.pass === "fwd+bwd" && w.spec.cin === 32,
    reference.name,
  );
  const rate = conv ? gflops(conv.w, conv.cell.timing.medianMs)! : undefined;
  targets.push({
    text: "conv2d fwd+bwd N=32 32→64 3×3 ≥ 40 GFLOP/s",
    measured: rate === undefined ? "—" : `${rate.toFixed(1)} GFLOP/s`,
    met: rate === undefined ? undefined : rate >= 40,
  });
  const is1024 = (w: Workload) => w.kind === "matmul" && w.n === 1024;
  const mm = cellOf("matmul", is1024, reference.name);
  const tfw = cellOf("matmul", is1024, "tfjs wasm");
  const ratio = mm && tfw ? tfw.cell.timing.medianMs / mm.cell.timing.medianMs : undefined;
  targets.push({
    text: "matmul 1024³ ≥ 2× tfjs wasm's GFLOP/s",
    measured:
      ratio === undefined
        ? "—"
        : `${gflops(mm!.w, mm!.cell.timing.medianMs)!.toFixed(1)} vs ` +
          `${gflops(tfw!.w, tfw!.cell.timing.medianMs)!.toFixed(1)} GFLOP/s = ${formatRatio(ratio)}`,
    met: ratio === undefined ? undefined : ratio >= 2,
  });
}
console.log(`Targets (${reference.name}):`);
for (const t of targets) {
  console.log(`  ${metText(t.met).padEnd(13)}${t.text.padEnd(56)}${t.measured}`);
}
console.log();

// Every peer must compute the same thing as the reference for the comparison to mean anything.
console.log(
  `Agreement with ${reference.name}: max |difference| per result (at the batch the cell ran ` +
    "at, noted when smaller), and max |reference| for scale. Peers' results are transposed back " +
    "to NCHW/OIHW first.",
);
const others = peers.filter((p) => p !== reference);
const col = 18;
console.log(
  `${"workload".padEnd(54)}${"result".padEnd(8)}${"scale".padStart(9)}  ` +
    others.map((p) => p.name.padStart(col)).join(""),
);
for (const row of rows) {
  const w = row.workload;
  const results = new Set<string>();
  for (const cell of row.cells.values()) {
    if (cell.ok) for (const key of Object.keys(cell.agreement)) results.add(key);
  }
  for (const result of results) {
    let scale = 0;
    const entries = others.map((peer) => {
      const cell = row.cells.get(peer.name);
      if (cell === undefined || !cell.ok) return "—";
      if (cell.checkError !== undefined) return "check failed";
      const a = cell.agreement[result];
      if (a === undefined) return "—";
      if (typeof a === "string") return a;
      scale = Math.max(scale, a.scale);
      const at = isScaled(w, cell) ? ` N=${cell.timing.batch}` : "";
      return `${a.diff.toExponential(1)}${a.diff > AGREEMENT_RTOL * a.scale ? "!" : ""}${at}`;
    });
    const name = `${workloadName(w)} ${passName(w)}`;
    console.log(
      `${name.padEnd(54)}${result.padEnd(8)}${scale.toPrecision(2).padStart(9)}  ` +
        entries.map((e) => e.padStart(col)).join(""),
    );
  }
}
for (const peer of peers)
  for (const note of peer.notes?.() ?? []) console.log(`${peer.name}: ${note}`);
console.log();
console.log(`Total ${((performance.now() - started) / 1000).toFixed(0)} s.`);

const markdownPath = process.env["BENCH_MARKDOWN"];
if (markdownPath) {
  writeFileSync(
    markdownPath,
    `<!-- ${JSON.stringify(machine)} -->\n\n` +
      markdownTables(
        rows,
        peers.map((p) => p.name),
        reference.name,
        targets,
        scaledNotes,
        disagreements,
      ),
  );
  console.log(`Markdown tables written to ${markdownPath}.`);
}
