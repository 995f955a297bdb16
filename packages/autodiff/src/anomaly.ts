import { TapegradError, inputName, showIndex, showShape } from "./errors.js";
import type { TapeNode } from "./tape.js";
import { Tensor } from "./tensor.js";

// Anomaly mode finds the op that first makes NaN from values without NaN, or ±Infinity from
// finite values. Off, it costs a boolean test or two per op application and one per vjp call;
// on, every op's output and every vjp's gradients are scanned, and each op recorded on a tape
// keeps a stack trace.

/** @internal True while `detectAnomaly` runs; read by the registry and the tape. */
export let anomalyMode = false;

/**
 * @internal True while ops recorded on a tape keep their call site although anomaly mode is off:
 * the gradient checker reads them to say where user code applied a faulty op.
 */
export let keepingCallSites = false;

/**
 * Vjp calls under way in anomaly mode. The ops a vjp rule is written with are not checked one
 * by one: the rule is judged as a whole by the gradients it returns (phase "backward").
 */
let vjpDepth = 0;

/** Which pass produced the non-finite value: an op's forward, or its vjp during backward. */
export type AnomalyPhase = "forward" | "backward";

/** What a NonFiniteError reports, as fields as well as in its message. */
export interface NonFiniteDetails {
  /** The registered name of the op that produced the value. */
  readonly op: string;
  /** Forward (the op's output) or backward (a gradient its vjp returned). */
  readonly phase: AnomalyPhase;
  /** The shapes of the op's inputs, in input order. */
  readonly inputShapes: readonly (readonly number[])[];
  /** Backward only: the name of the input whose gradient is non-finite (`x`, `xs[2]`). */
  readonly input?: string;
  /** Where in user code the op was applied: stack frames outside tapegrad, one per line. */
  readonly site: string;
}

/**
 * Thrown in anomaly mode (code NON_FINITE) by the first op that produces NaN from values without
 * NaN, or ±Infinity from finite values: its forward from its inputs, or its vjp from dy, the op's
 * inputs and its output. (softmax of a row that is −Infinity throughout makes NaN this way.)
 */
export class NonFiniteError extends TapegradError implements NonFiniteDetails {
  readonly op: string;
  readonly phase: AnomalyPhase;
  readonly inputShapes: readonly (readonly number[])[];
  readonly input?: string;
  readonly site: string;

  constructor(details: NonFiniteDetails, message: string) {
    super("NON_FINITE", message);
    this.name = "NonFiniteError";
    this.op = details.op;
    this.phase = details.phase;
    this.inputShapes = details.inputShapes;
    this.input = details.input;
    this.site = details.site;
  }
}

/**
 * Runs `fn` in anomaly mode and returns its result: every op's output and every vjp's gradients
 * are checked, and the first op that makes NaN from values without NaN, or ±Infinity from finite
 * values, throws a NonFiniteError naming the op, the phase, the input shapes and where user code
 * applied it.
 * The previous mode comes back afterwards, also when fn throws; calls nest. fn must be
 * synchronous (the mode ends when fn returns, not when a promise it returns settles).
 */
export function detectAnomaly<T>(fn: () => T): T {
  const previous = anomalyMode;
  anomalyMode = true;
  try {
    return fn();
  } finally {
    anomalyMode = previous;
  }
}

/** @internal Runs fn with call sites kept for the ops recorded on a tape (keepingCallSites). */
export function keepCallSites<T>(fn: () => T): T {
  const previous = keepingCallSites;
  keepingCallSites = true;
  try {
    return fn();
  } finally {
    keepingCallSites = previous;
  }
}

/** Whether anomaly mode is on (inside `detectAnomaly` or a transform given `detectAnomaly`). */
export function isDetectingAnomaly(): boolean {
  return anomalyMode;
}

/** @internal The call stack of an op application, for a report; anomaly mode only. */
export function captureSite(): Error {
  // Internal frames (transforms, nested trace levels, layers) can be many; keep enough of them
  // to reach the user's code. stackTraceLimit is V8's; other engines ignore it.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const site = new Error("op applied here");
  Error.stackTraceLimit = limit;
  return site;
}

interface OpLike {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly variadic?: boolean;
  readonly outputs?: readonly string[];
}

/** @internal Checks an op's forward outputs; the op is blamed only for values its inputs lack. */
export function checkForward(op: OpLike, inputs: readonly Tensor[], ys: readonly Tensor[]): void {
  if (vjpDepth > 0) return;
  ys.forEach((y, k) => {
    const bad = firstUnexplained(y, inputs);
    if (bad >= 0) throwForward(op, inputs, y, bad, ys.length > 1 ? ` ${op.outputs![k]}` : "");
  });
}

function throwForward(
  op: OpLike,
  inputs: readonly Tensor[],
  y: Tensor,
  bad: number,
  output: string,
): never {
  const details: NonFiniteDetails = {
    op: op.name,
    phase: "forward",
    inputShapes: inputs.map((x) => x.shape),
    // Still inside the op's application: the current stack leads back to the user's call.
    site: userFrames(captureSite()),
  };
  throw new NonFiniteError(
    details,
    `${op.name} (forward) produced ${describe(y, bad)} in its output${output} ${typed(y)} from ` +
      `${finiteness(inputs)} inputs ${listInputs(op, inputs)}${infinities(op, inputs)}` +
      siteLines(details.site),
  );
}

/**
 * @internal Calls a recorded op's vjp in anomaly mode and checks the gradients it returns: one
 * that is not finite although dy, the op's inputs and its output all are blames this op.
 */
export function checkedVjp(
  node: TapeNode,
  call: () => readonly (Tensor | null)[],
  dys: readonly Tensor[],
): readonly (Tensor | null)[] {
  vjpDepth++;
  let grads: readonly (Tensor | null)[];
  try {
    grads = call();
  } finally {
    vjpDepth--;
  }
  const saved = node.saved instanceof Tensor ? [node.saved] : [];
  const given = [...dys, ...node.innerOutputs, ...node.innerInputs, ...saved];
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    if (!(g instanceof Tensor)) continue;
    const bad = firstUnexplained(g, given);
    if (bad < 0) continue;
    const details: NonFiniteDetails = {
      op: node.op.name,
      phase: "backward",
      inputShapes: node.innerInputs.map((x) => x.shape),
      input: inputName(node.op, i),
      site: node.site === undefined ? "" : userFrames(node.site),
    };
    throw new NonFiniteError(
      details,
      `${node.op.name} (backward) produced ${describe(g, bad)} in the gradient of input ` +
        `${details.input} ${typed(g)} from ${finiteness(given)} ${listCotangents(node, dys)} and inputs ` +
        `${listInputs(node.op, node.innerInputs)}${infinities(node.op, node.innerInputs)}` +
        siteLines(details.site),
    );
  }
  return grads;
}

/**
 * The flat index of the first value of `out` that `given` cannot explain, or −1: a NaN when no
 * given value is NaN, or ±Infinity when every given value is finite. An op that only passes on
 * a NaN or an infinity it was given is not blamed; one that makes NaN out of infinities is
 * (−Infinity − −Infinity in a fully masked softmax row, 0·Infinity).
 */
function firstUnexplained(out: Tensor, given: readonly Tensor[]): number {
  if (firstNonFinite(out) < 0 || given.some(hasNaN)) return -1;
  const infinityGiven = given.some((x) => firstNonFinite(x) >= 0);
  const data = out.buffer;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v) || (!infinityGiven && v - v !== 0)) return i;
  }
  return -1;
}

/** The flat index of the first NaN or ±Infinity in x, or −1 (int32 is always finite). */
function firstNonFinite(x: Tensor): number {
  const data = x.buffer;
  if (data instanceof Int32Array) return -1;
  for (let i = 0; i < data.length; i++) {
    // v − v is 0 for finite v and NaN for NaN and ±Infinity: one test for both.
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

function hasNaN(x: Tensor): boolean {
  const i = firstNonFinite(x);
  return i >= 0 && Number.isNaN(x.buffer[i]!);
}

/** "finite", or "NaN-free" when some of `given` holds an infinity. */
function finiteness(given: readonly Tensor[]): string {
  return given.some((x) => firstNonFinite(x) >= 0) ? "NaN-free" : "finite";
}

/** ` (x holds -Infinity at [1,0])`, naming each input's first infinity; "" if all are finite. */
function infinities(op: OpLike, inputs: readonly Tensor[]): string {
  const held = inputs.flatMap((x, i) => {
    const at = firstNonFinite(x);
    return at < 0 ? [] : [`${inputName(op, i)} holds ${describe(x, at)}`];
  });
  return held.length === 0 ? "" : ` (${held.join("; ")})`;
}

/** `NaN at [1,0]`: the bad value and where it sits. */
function describe(x: Tensor, flat: number): string {
  return `${String(x.buffer[flat])} at ${showIndex(x.shape, flat) || "[]"}`;
}

/** `dy float32[2,3]`, or `dy (dx: float32[…], dw: …)` for an op with several outputs. */
function listCotangents(node: TapeNode, dys: readonly Tensor[]): string {
  const names = node.op.outputs;
  if (names === undefined || names.length === 1) return `dy ${typed(dys[0]!)}`;
  return `dy (${dys.map((dy, k) => `${names[k]}: ${typed(dy)}`).join(", ")})`;
}

function typed(x: Tensor): string {
  return `${x.dtype}${showShape(x.shape)}`;
}

function listInputs(op: OpLike, inputs: readonly Tensor[]): string {
  if (inputs.length === 0) return "(none)";
  return inputs.map((x, i) => `${inputName(op, i)}: ${typed(x)}`).join(", ");
}

function siteLines(site: string): string {
  if (site === "") return "";
  return `\n  op applied at:\n${site
    .split("\n")
    .map((frame) => `    ${frame}`)
    .join("\n")}`;
}

/** Frames of tapegrad's own packages: <packages>/<name>/src|dist/…, test files excepted. */
const INTERNAL = internalFramePattern();

function internalFramePattern(): RegExp | null {
  let root: URL;
  try {
    // This file is <packages>/autodiff/src/anomaly.ts (or dist/anomaly.js once built).
    root = new URL("../../", import.meta.url);
  } catch {
    return null;
  }
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const roots = [root.href, decodeURIComponent(root.pathname)].map(escape);
  return new RegExp(`(?:${roots.join("|")})[^/\\\\]+[/\\\\](?:src|dist)[/\\\\]`);
}

/** Whether a stack frame is tapegrad's own code or the runtime's, not the user's. */
function isInternalFrame(frame: string): boolean {
  // Runtime frames: Node's own modules and built-ins such as Array.prototype.forEach.
  if (/node:internal|\((?:native|<anonymous>)\)$/.test(frame)) return true;
  if (INTERNAL === null || /\.test\.[cm]?[jt]s/.test(frame)) return false;
  return INTERNAL.test(frame);
}

/** @internal The first three frames of `site` outside tapegrad's files, one a line ("" if none). */
export function userFrames(site: Error): string {
  const lines = (site.stack ?? "").split("\n");
  // V8 frames read "    at f (file:line:col)"; Firefox and Safari ones "f@file:line:col".
  const frames = lines.filter((line) => /^\s+at /.test(line) || line.includes("@"));
  return frames
    .filter((frame) => !isInternalFrame(frame))
    .slice(0, 3)
    .map((frame) => frame.trim())
    .join("\n");
}
