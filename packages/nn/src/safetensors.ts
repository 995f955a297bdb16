import {
  TapegradError,
  isContainer,
  isTensor,
  tensor,
  treeUnflatten,
  type DType,
  type Tensor,
  type Tree,
  type TypedArray,
} from "@tapegrad/autodiff";

// The safetensors layout (https://github.com/huggingface/safetensors):
//   [8 bytes] N, the header length, unsigned 64-bit little-endian
//   [N bytes] a UTF-8 JSON object: name → { dtype, shape, data_offsets: [begin, end] },
//             plus an optional "__metadata__" object of strings; padded with spaces
//   [rest]    the data buffer: each tensor's elements, row-major, little-endian, at
//             [begin, end) counted from the buffer's start; together they cover it exactly.

/** Largest header accepted, as in the reference implementation (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * The `__metadata__` key that marks plain-number leaves. Its value is a JSON array of names
 * (`["epoch","optimizer.step"]`); each names a float64 0-d tensor that loads back as a number.
 * Other safetensors readers see ordinary scalar tensors.
 */
export const NUMBERS_KEY = "tapegrad.numbers";

const FILE_DTYPE: Readonly<Record<DType, string>> = {
  float32: "F32",
  float64: "F64",
  int32: "I32",
};
const TENSOR_DTYPE: ReadonlyMap<string, DType> = new Map([
  ["F32", "float32"],
  ["F64", "float64"],
  ["I32", "int32"],
]);
const ELEMENT_BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4 };

/** Typed arrays use the host's byte order; the file is little-endian. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A decoded file: the tree of tensors and numbers, and the user's string metadata. */
export interface Checkpoint {
  /** The saved tree of tensors and numbers, rebuilt from the dotted tensor names. */
  readonly tree: Tree<Tensor | number>;
  /** String key–value pairs stored in the file's `__metadata__`. */
  readonly metadata: Record<string, string>;
}

/**
 * Encodes a tree of tensors (float32/float64/int32) and numbers as safetensors bytes. Names are
 * the dotted tree paths in tree order, metadata keys are sorted and the header is padded with
 * spaces to a multiple of 8 (as the reference writer does), so equal trees give equal bytes.
 * Numbers become float64 0-d tensors listed under the `tapegrad.numbers` metadata key.
 * Empty objects and arrays are not stored; an object with keys 0…n−1 loads back as an array.
 */
export function encodeSafetensors(
  tree: unknown,
  metadata: Record<string, string> = {},
): Uint8Array {
  const leaves = flattenForSave(tree);
  const meta = checkedMetadata(metadata);
  const numbers = leaves.filter(([, leaf]) => typeof leaf === "number").map(([name]) => name);
  if (numbers.length > 0) meta.set(NUMBERS_KEY, JSON.stringify(numbers));

  const parts: string[] = [];
  if (meta.size > 0) {
    // Written by hand: an object would move integer-like keys ("2") ahead of the others.
    const sorted = [...meta.keys()].sort();
    const fields = sorted.map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta.get(k))}`);
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  const arrays: TypedArray[] = [];
  let offset = 0;
  for (const [name, leaf] of leaves) {
    const data = typeof leaf === "number" ? new Float64Array([leaf]) : leaf.data;
    const shape = typeof leaf === "number" ? [] : [...leaf.shape];
    if (typeof leaf !== "number" && shapeProduct(shape) !== data.length) {
      throw argumentError(`"${name}" has shape ${showShape(shape)} but ${data.length} elements`);
    }
    const dtype = FILE_DTYPE[typeof leaf === "number" ? "float64" : leaf.dtype];
    const info = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    arrays.push(data);
    offset += data.byteLength;
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const data of arrays) {
    writeLittleEndian(view, position, data);
    position += data.byteLength;
  }
  return bytes;
}

/**
 * Decodes safetensors bytes into `{ tree, metadata }`, validating the whole header first: any
 * defect throws a CORRUPT_FILE error that names it. Memory use is bounded by the input: the
 * header length is checked against the byte count before anything is read or allocated.
 */
export function decodeSafetensors(bytes: Uint8Array): Checkpoint {
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

  const leaves = entries.map((e): [string, Tensor | number] => {
    const data = readLittleEndian(bytes, dataStart + e.begin, e.dtype, shapeProduct(e.shape));
    if (numbers.has(e.name)) return [e.name, data[0]!];
    return [e.name, tensor(data, { shape: e.shape })];
  });
  let tree: Tree<Tensor | number>;
  try {
    tree = treeUnflatten(leaves) as Tree<Tensor | number>;
  } catch (error) {
    // A name that passes through a leaf ("a" and "a.b"): the names do not form a tree.
    throw corrupt(`tensor names do not form a tree (${(error as Error).message})`);
  }
  return { tree, metadata };
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

interface Entry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
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
  const dtype = typeof fileDtype === "string" ? TENSOR_DTYPE.get(fileDtype) : undefined;
  if (dtype === undefined) {
    throw corrupt(`${what} has dtype ${show(fileDtype)}; expected one of F32, F64, I32`);
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
  const needed = shapeProduct(shape) * ELEMENT_BYTES[dtype];
  if (end - begin !== needed) {
    throw corrupt(
      `${what} has data_offsets [${begin},${end}] (${end - begin} bytes) but ` +
        `${fileDtype} ${showShape(shape)} needs ${needed} bytes`,
    );
  }
  return { name, dtype, shape, begin, end };
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
    if (e.dtype !== "float64" || e.shape.length !== 0) {
      throw corrupt(
        `metadata "${NUMBERS_KEY}" names "${name}", which is ` +
          `${FILE_DTYPE[e.dtype]} ${showShape(e.shape)}; expected F64 []`,
      );
    }
  }
  return new Set(names);
}

/** The leaves with their paths, checking that the tree will load back with the same structure. */
function flattenForSave(tree: unknown): [string, Tensor | number][] {
  if (!isContainer(tree)) {
    throw argumentError(`the tree must be an object or array of tensors, got ${kindOf(tree)}`);
  }
  const leaves: [string, Tensor | number][] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, join(path, String(i))));
    } else if (isContainer(node)) {
      for (const [key, child] of Object.entries(node)) {
        checkKey(key, path);
        visit(child, join(path, key));
      }
    } else if (isTensor(node) || typeof node === "number") {
      leaves.push([path, node]);
    } else {
      throw argumentError(`"${path}" is ${kindOf(node)}; only tensors and numbers can be saved`);
    }
  };
  visit(tree, "");
  return leaves;
}

function checkKey(key: string, parent: string): void {
  const where = parent === "" ? "the tree" : `"${parent}"`;
  if (key === "") throw argumentError(`${where} has an empty key`);
  if (key.includes(".")) {
    throw argumentError(`${where} has the key "${key}"; keys with dots cannot load back`);
  }
  if (key === "__proto__" || (parent === "" && key === "__metadata__")) {
    throw argumentError(`${where} has the reserved key "${key}"`);
  }
}

function checkedMetadata(metadata: Record<string, string>): Map<string, string> {
  if (!isContainer(metadata) || Array.isArray(metadata)) {
    throw argumentError(`metadata must be an object of strings, got ${kindOf(metadata)}`);
  }
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(metadata)) {
    if (key === NUMBERS_KEY || key === "__proto__") {
      throw argumentError(`metadata key "${key}" is reserved`);
    }
    if (typeof value !== "string") {
      throw argumentError(`metadata "${key}" must be a string, got ${kindOf(value)}`);
    }
    out.set(key, value);
  }
  return out;
}

function writeLittleEndian(view: DataView, position: number, data: TypedArray): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    const source = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    new Uint8Array(view.buffer, view.byteOffset + position, data.byteLength).set(source);
    return;
  }
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(position + 4 * i, data[i]!, true);
    else if (data instanceof Float64Array) view.setFloat64(position + 8 * i, data[i]!, true);
    else view.setInt32(position + 4 * i, data[i]!, true);
  }
}

/**
 * The `count` elements at byte `position` (any alignment) as a typed array: a view of `bytes`
 * where the host is little-endian and the position aligned, else a copy. Callers copy it again.
 */
function readLittleEndian(
  bytes: Uint8Array,
  position: number,
  dtype: DType,
  count: number,
): TypedArray {
  const width = ELEMENT_BYTES[dtype];
  const start = bytes.byteOffset + position;
  if (HOST_IS_LITTLE_ENDIAN && start % width === 0) return view(dtype, bytes.buffer, start, count);
  if (HOST_IS_LITTLE_ENDIAN) {
    const copy = bytes.slice(position, position + count * width);
    return view(dtype, copy.buffer, 0, count);
  }
  const data = new DataView(bytes.buffer, start, count * width);
  const out = view(dtype, new ArrayBuffer(count * width), 0, count);
  for (let i = 0; i < count; i++) {
    if (dtype === "float32") out[i] = data.getFloat32(4 * i, true);
    else if (dtype === "float64") out[i] = data.getFloat64(8 * i, true);
    else out[i] = data.getInt32(4 * i, true);
  }
  return out;
}

function view(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, count: number) {
  if (dtype === "float32") return new Float32Array(buffer, byteOffset, count);
  if (dtype === "float64") return new Float64Array(buffer, byteOffset, count);
  return new Int32Array(buffer, byteOffset, count);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shapeProduct(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function showShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** A JSON value for an error message, cut short so a hostile header cannot flood it. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Nesting deep enough to overflow the stack: JSON.parse accepts it, JSON.stringify does not.
    return kindOf(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isTensor(value)) return "a tensor";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

function corrupt(message: string): TapegradError {
  return new TapegradError("CORRUPT_FILE", `safetensors: ${message}`);
}

function argumentError(message: string): TapegradError {
  return new TapegradError("INVALID_ARGUMENT", `encodeSafetensors: ${message}`);
}
