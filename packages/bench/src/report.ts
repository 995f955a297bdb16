import type { CellTiming } from "./timing.js";
import {
  EPOCH_IMAGES,
  batchOf,
  flopsOf,
  passName,
  workloadName,
  type Workload,
} from "./workloads.js";

/** max |peer − reference| and max |reference| of one result, or why they cannot be compared. */
export type Agreement = { readonly diff: number; readonly scale: number } | string;

/**
 * One peer's cell of one workload: a timing and the agreement of its results with the
 * reference's (empty for the reference itself), or the reason there is no timing.
 */
export type Cell =
  | {
      readonly ok: true;
      readonly timing: CellTiming;
      readonly agreement: Readonly<Record<string, Agreement>>;
      readonly checkError?: string;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Results that differ from the reference's by more than this fraction of the reference's
 * largest magnitude are flagged: far above float32 summation-order noise (~1e-6 relative).
 */
export const AGREEMENT_RTOL = 1e-3;

/** Whether any result of the cell disagrees with the reference (or could not be compared). */
export function disagrees(cell: Cell): boolean {
  if (!cell.ok) return false;
  return Object.values(cell.agreement).some(
    (a) => typeof a === "string" || !(a.diff <= AGREEMENT_RTOL * a.scale),
  );
}

export interface Row {
  readonly workload: Workload;
  /** Per peer name, in peer order. */
  readonly cells: ReadonlyMap<string, Cell>;
}

/** Whether a cell was timed on a smaller batch and scaled (marked `*`). */
export function isScaled(w: Workload, cell: Cell): boolean {
  const batch = batchOf(w);
  return cell.ok && batch !== undefined && cell.timing.batch < batch;
}

export function gflops(w: Workload, ms: number): number | undefined {
  const flops = flopsOf(w);
  return flops === undefined ? undefined : flops / (ms * 1e6);
}

/** Seconds per 60,000-image epoch implied by one LeNet step of `batch` images. */
export function epochSeconds(batch: number, stepMs: number): number {
  return ((EPOCH_IMAGES / batch) * stepMs) / 1000;
}

export const formatMs = (ms: number): string =>
  ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);

/** GFLOP/s with 3 significant digits (2 below 1). */
export const formatRate = (r: number): string =>
  r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r >= 1 ? r.toFixed(2) : r.toPrecision(2);

/** Seconds, 1 decimal below 100. */
export const formatSeconds = (s: number): string => (s >= 100 ? s.toFixed(0) : s.toFixed(1));

export const formatRatio = (r: number): string =>
  `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;

/** The console table's column layout. */
const widths = { workload: 40, pass: 13, peer: 18, ms: 11, gflops: 9, runs: 6, ratio: 14 };

export function consoleHeader(referenceName: string): string {
  return (
    "workload".padEnd(widths.workload) +
    "pass".padEnd(widths.pass) +
    "peer".padEnd(widths.peer) +
    "median ms".padStart(widths.ms) +
    "GFLOP/s".padStart(widths.gflops) +
    "runs".padStart(widths.runs) +
    `  ${referenceName} speed-up`
  );
}

/**
 * One console line: the workload's name on its group's first line only; the median (`*` when
 * scaled from a smaller batch), GFLOP/s, runs and the reference's speed-up over this peer
 * (peer time / reference time: > 1 means the reference is faster), or the reason instead.
 */
export function consoleLine(
  w: Workload,
  first: boolean,
  peer: string,
  cell: Cell,
  reference: Cell | undefined,
  isReference: boolean,
): string {
  const head =
    (first ? workloadName(w) : "").padEnd(widths.workload) +
    (first ? passName(w) : "").padEnd(widths.pass) +
    peer.padEnd(widths.peer);
  if (!cell.ok) return `${head}${" ".repeat(3)}${cell.reason}`;
  const mark = `${isScaled(w, cell) ? "*" : ""}${disagrees(cell) ? "!" : ""}`;
  const ms = `${formatMs(cell.timing.medianMs)}${mark.padEnd(2)}`;
  const rate = gflops(w, cell.timing.medianMs);
  let ratio = "";
  if (isReference) ratio = "(reference)";
  else if (reference?.ok) ratio = formatRatio(cell.timing.medianMs / reference.timing.medianMs);
  return (
    head +
    ms.padStart(widths.ms) +
    (rate === undefined ? "" : formatRate(rate)).padStart(widths.gflops) +
    String(cell.timing.runs).padStart(widths.runs) +
    `  ${ratio}`
  );
}

/** max |a − b| and max |b| (the scale), or a message when a is missing or the sizes differ. */
export function compare(a: Float32Array | undefined, b: Float32Array): Agreement {
  if (a === undefined) return "missing";
  if (a.length !== b.length) return `size ${a.length} vs ${b.length}`;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

/** A target of the issue, evaluated on the measured table. */
export interface Target {
  readonly text: string;
  readonly measured: string;
  /** undefined: not measurable in this run (a cell is missing). */
  readonly met: boolean | undefined;
}

export const metText = (met: boolean | undefined): string =>
  met === undefined ? "not measured" : met ? "met" : "NOT met";

/** The markdown cell of one peer's timing: `1.14 ms · 9.3 GFLOP/s`, or the reason. */
function markdownCell(w: Workload, cell: Cell | undefined): string {
  if (cell === undefined) return "—";
  if (!cell.ok) return cell.reason;
  const marks = `${isScaled(w, cell) ? "\\*" : ""}${disagrees(cell) ? " !" : ""}`;
  const ms = `${formatMs(cell.timing.medianMs)} ms${marks}`;
  const rate = gflops(w, cell.timing.medianMs);
  return rate === undefined ? ms : `${ms} · ${formatRate(rate)} GFLOP/s`;
}

/**
 * The results as markdown, for docs/performance.md: medians per workload and peer (with
 * GFLOP/s and the implied LeNet epoch), the reference's speed-up over each peer, the targets.
 */
export function markdownTables(
  rows: readonly Row[],
  peers: readonly string[],
  reference: string,
  targets: readonly Target[],
  scaledNotes: readonly string[],
  disagreements: readonly string[],
): string {
  const lines: string[] = [];
  const table = (header: string[], body: string[][]) => {
    lines.push(`| ${header.join(" | ")} |`);
    lines.push(`| ${header.map(() => "---").join(" | ")} |`);
    for (const r of body) lines.push(`| ${r.join(" | ")} |`);
  };
  lines.push("#### Medians");
  lines.push("");
  const body = rows.map((row) => [
    workloadName(row.workload),
    passName(row.workload),
    ...peers.map((p) => markdownCell(row.workload, row.cells.get(p))),
  ]);
  for (const row of rows) {
    if (row.workload.kind !== "lenet") continue;
    const n = row.workload.n;
    body.push([
      `↳ implied Fashion-MNIST epoch (${EPOCH_IMAGES.toLocaleString("en-US")} images)`,
      "s/epoch",
      ...peers.map((p) => {
        const cell = row.cells.get(p);
        if (cell === undefined || !cell.ok) return "—";
        return `${formatSeconds(epochSeconds(n, cell.timing.medianMs))} s`;
      }),
    ]);
  }
  table(["workload", "pass", ...peers], body);
  if (scaledNotes.length > 0) {
    lines.push("");
    lines.push(
      `\\* timed on a smaller batch and scaled linearly to the full batch: ${scaledNotes.join("; ")}.`,
    );
  }
  if (disagreements.length > 0) {
    lines.push("");
    lines.push(
      `! results differ from ${reference}'s by more than ${AGREEMENT_RTOL} of their scale: ` +
        `${disagreements.join("; ")}.`,
    );
  }
  lines.push("");
  lines.push(`#### ${reference}'s speed-up over each peer (peer time / ${reference} time)`);
  lines.push("");
  const others = peers.filter((p) => p !== reference);
  table(
    ["workload", "pass", ...others.map((p) => `vs ${p}`)],
    rows.map((row) => {
      const ref = row.cells.get(reference);
      return [
        workloadName(row.workload),
        passName(row.workload),
        ...others.map((p) => {
          const cell = row.cells.get(p);
          if (cell === undefined || !cell.ok || ref === undefined || !ref.ok) return "—";
          return formatRatio(cell.timing.medianMs / ref.timing.medianMs);
        }),
      ];
    }),
  );
  lines.push("");
  lines.push("#### Targets");
  lines.push("");
  table(
    ["target", "measured", "status"],
    targets.map((t) => [t.text, t.measured, metText(t.met)]),
  );
  return `${lines.join("\n")}\n`;
}
