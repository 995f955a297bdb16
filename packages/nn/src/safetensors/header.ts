import type { DType } from "@tapegrad/autodiff";
import { FILE_CODES, MAX_HEADER_BYTES, NUMBERS_KEY, shapeProduct } from "./format.js";
import { corrupt, kindOf, show, showShape } from "./messages.js";

/** One tensor of a validated header: where its bytes lie in the data buffer. */
export interface Entry {
  /** The dotted tree path the tensor is stored under. */
  readonly name: string;
  /** The file's dtype code (F32, BF16, I64, …). */
  readonly code: string;
  /** The dtype the tensor loads as (FILE_CODES). */
  readonly dtype: DType;
  /** The tensor's shape; its elements fill `end − begin` bytes exactly. */
  readonly shape: number[];
  /** First byte of the tensor, counted from the start of the data buffer. */
  readonly begin: number;
  /** One past the tensor's last byte, counted from the start of the data buffer. */
  readonly end: number;
}

/** A header that passed every check: nothing in it can make reading the data fail. */
export interface Header {
  /** Byte offset of the data buffer in the file: 8 plus the header length. */
  readonly dataStart: number;
  /** The tensors, in header order; sorted by offsets they tile the data buffer. */
  readonly entries: Entry[];
  /** The user's string metadata, without the `tapegrad.numbers` marker. */
  readonly metadata: Record<string, string>;
  /** The names of the entries that load back as plain numbers. */
  readonly numbers: Set<string>;
}

/**
 * Validates the whole header of a safetensors file before any data is read: any defect throws a
 * CORRUPT_FILE error that names it. Every check is arithmetic on the header, so nothing is
 * allocated for sizes the file does not hold.
 */
export function readHeader(bytes: Uint8Array): Header {
  const headerLength = readHeaderLength(bytes, bytes.length);
  const header = parseHeader(bytes.subarray(8, 8 + headerLength));
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") metadata = parseMetadata(info);
    else entries.push(parseEntry(name, info, dataLength));
  }
  checkCoverage(entries, dataLength);
  const numbers = parseNumbers(metadata, entries);
  delete metadata[NUMBERS_KEY];
  return { dataStart, entries, metadata, numbers };
}

/**
 * @internal Validates the 8-byte header length of a `totalBytes`-long file from its first bytes
 * and returns it. Shared with file readers, which call it before reading the rest.
 */
export function readHeaderLength(prefix: Uint8Array, totalBytes: number): number {
  if (totalBytes < 8 || prefix.length < 8) {
    throw corrupt(`file is ${totalBytes} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(`header length is ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const length = Number(n);
  if (length < 2) {
    throw corrupt(`header length is ${length} bytes; expected at least 2 (the header "{}")`);
  }
  if (length > totalBytes - 8) {
    throw corrupt(
      `header length is ${length} bytes but only ${totalBytes - 8} bytes follow the length field`,
    );
  }
  return length;
}

function parseHeader(headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw corrupt("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw corrupt(`header is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(header)) throw corrupt(`header must be a JSON object, got ${kindOf(header)}`);
  // The format requires the object to open the header: no leading whitespace or byte-order mark.
  if (headerBytes[0] !== 0x7b) {
    throw corrupt(`header must begin with "{" (byte 0x7b), got byte 0x${hex(headerBytes[0]!)}`);
  }
  return header;
}

function parseMetadata(info: unknown): Record<string, string> {
  if (!isObject(info)) throw corrupt(`"__metadata__" must be an object, got ${kindOf(info)}`);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(info)) {
    if (key === "__proto__") throw corrupt(`"__metadata__" has the reserved key "__proto__"`);
    if (typeof value !== "string") {
      throw corrupt(`"__metadata__" value "${key}" must be a string, got ${kindOf(value)}`);
    }
    metadata[key] = value;
  }
  return metadata;
}

function parseEntry(name: string, info: unknown, dataLength: number): Entry {
  checkName(name);
  const what = `tensor "${name}"`;
  if (!isObject(info)) throw corrupt(`${what} must be an object, got ${kindOf(info)}`);
  for (const key of Object.keys(info)) {
    if (key !== "dtype" && key !== "shape" && key !== "data_offsets") {
      throw corrupt(`${what} has an unexpected field "${key}"`);
    }
  }
  for (const key of ["dtype", "shape", "data_offsets"]) {
    if (!(key in info)) throw corrupt(`${what} has no "${key}"`);
  }
  const { dtype: fileDtype, shape, data_offsets: offsets } = info;
  const format = typeof fileDtype === "string" ? FILE_CODES.get(fileDtype) : undefined;
  if (format === undefined) {
    throw corrupt(
      `${what} has dtype ${show(fileDtype)}; expected one of ${[...FILE_CODES.keys()].join(", ")}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw corrupt(`${what} has shape ${show(shape)}; expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw corrupt(`${what} has data_offsets ${show(offsets)}; expected [begin, end] in bytes`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw corrupt(`${what} has data_offsets [${begin},${end}] with begin > end`);
  if (end > dataLength) {
    throw corrupt(
      `${what} has data_offsets [${begin},${end}] but the data buffer is ${dataLength} bytes`,
    );
  }
  const needed = shapeProduct(shape) * format.bytes;
  if (end - begin !== needed) {
    throw corrupt(
      `${what} has data_offsets [${begin},${end}] (${end - begin} bytes) but ` +
        `${fileDtype} ${showShape(shape)} needs ${needed} bytes`,
    );
  }
  return { name, code: fileDtype as string, dtype: format.dtype, shape, begin, end };
}

/** Names are dotted tree paths: non-empty segments, never "__proto__". */
function checkName(name: string): void {
  const segments = name.split(".");
  if (segments.some((s) => s === "")) {
    throw corrupt(`tensor name ${JSON.stringify(name)} is not a dotted path (empty segment)`);
  }
  if (segments.includes("__proto__")) {
    throw corrupt(`tensor name ${JSON.stringify(name)} uses the reserved key "__proto__"`);
  }
}

/** Sorted by offsets, the tensors must tile the data buffer: no overlap, no gap, no tail. */
function checkCoverage(entries: readonly Entry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered) {
      throw corrupt(
        `tensors "${previous!.name}" (data_offsets [${previous!.begin},${previous!.end}]) and ` +
          `"${e.name}" (data_offsets [${e.begin},${e.end}]) overlap`,
      );
    }
    if (e.begin > covered) {
      const after = previous === undefined ? "at the start" : `after "${previous.name}"`;
      throw corrupt(
        `data bytes [${covered},${e.begin}) belong to no tensor (gap ${after}, ` +
          `before "${e.name}"); expected "${e.name}" to begin at ${covered}`,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    throw corrupt(
      `the tensors cover ${covered} bytes but the data buffer is ${dataLength} bytes ` +
        `(bytes [${covered},${dataLength}) belong to no tensor)`,
    );
  }
}

/** The names that the `tapegrad.numbers` marker says load back as plain numbers. */
function parseNumbers(metadata: Record<string, string>, entries: readonly Entry[]): Set<string> {
  const marker = metadata[NUMBERS_KEY];
  if (marker === undefined) return new Set();
  let names: unknown;
  try {
    names = JSON.parse(marker);
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
    throw corrupt(`metadata "${NUMBERS_KEY}" must be a JSON array of names, got ${show(marker)}`);
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const name of names) {
    const e = byName.get(name);
    if (e === undefined)
      throw corrupt(`metadata "${NUMBERS_KEY}" names "${name}", not in the file`);
    if (e.code !== "F64" || e.shape.length !== 0) {
      throw corrupt(
        `metadata "${NUMBERS_KEY}" names "${name}", which is ` +
          `${e.code} ${showShape(e.shape)}; expected F64 []`,
      );
    }
  }
  return new Set(names);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
