import { argumentError, corruptFile, showShape } from "../errors.js";

/** Element types an IDX file can hold, by their type codes 0x08…0x0E. */
export type IdxDType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
/** The typed array holding each IdxDType's elements. */
export type IdxArray =
  Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: `data` holds prod(shape) elements in row-major order, native byte order. */
export interface IdxData {
  /** Element type, from the header's type code. */
  readonly dtype: IdxDType;
  /** Dimensions from the header: [N, H, W] for images, [N] for labels. */
  readonly shape: readonly number[];
  /** The elements, row-major. */
  readonly data: IdxArray;
}

/** What the header declares: the element type, the dimensions and the byte sizes they imply. */
export interface IdxHeader {
  /** Element type, from the type code in byte 2. */
  readonly dtype: IdxDType;
  /** The declared dimensions. */
  readonly shape: readonly number[];
  /** Size of the header, 4 + 4·rank bytes: where the payload starts. */
  readonly headerBytes: number;
  /** Size of the payload the shape and dtype imply. */
  readonly payloadBytes: number;
}

/** Larger payloads are rejected from the header alone, before anything is allocated. */
export const MAX_IDX_PAYLOAD_BYTES = 2 ** 31;

const TYPES: Readonly<Record<number, { dtype: IdxDType; bytes: number }>> = {
  0x08: { dtype: "uint8", bytes: 1 },
  0x09: { dtype: "int8", bytes: 1 },
  0x0b: { dtype: "int16", bytes: 2 },
  0x0c: { dtype: "int32", bytes: 4 },
  0x0d: { dtype: "float32", bytes: 4 },
  0x0e: { dtype: "float64", bytes: 8 },
};

const hex = (b: number) => b.toString(16).padStart(2, "0");

/** True when `bytes` start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses and checks an IDX header: bytes 0–1 are zero, byte 2 the type code, byte 3 the number
 * of dimensions d ≥ 1, then d big-endian uint32 sizes. `source` names the file in errors.
 */
export function readIdxHeader(bytes: Uint8Array, source = "IDX data"): IdxHeader {
  if (isGzip(bytes)) {
    throw corruptFile(
      source,
      "is gzip-compressed; decompress it first (readIdxFile from @tapegrad/data/node does)",
    );
  }
  if (bytes.length < 4) {
    throw corruptFile(
      source,
      `truncated: an IDX header needs at least 4 bytes, got ${bytes.length}`,
    );
  }
  const magic = Array.from(bytes.subarray(0, 4), hex).join(" ");
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw corruptFile(
      source,
      `bad magic number ${magic}: an IDX file starts with 00 00 <type> <dims>; this is not one`,
    );
  }
  const type = TYPES[bytes[2]!];
  if (type === undefined) {
    throw corruptFile(
      source,
      `bad magic number ${magic}: unknown type code ${hex(bytes[2]!)}; expected 08 (uint8), ` +
        `09 (int8), 0b (int16), 0c (int32), 0d (float32) or 0e (float64)`,
    );
  }
  const ndim = bytes[3]!;
  if (ndim === 0)
    throw corruptFile(source, "the header declares 0 dimensions; expected at least 1");
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw corruptFile(
      source,
      `truncated header: ${ndim} dimensions need ${headerBytes} header bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const shape: number[] = [];
  for (let k = 0; k < ndim; k++) shape.push(view.getUint32(4 + 4 * k, false));
  // Exact in float64: each factor is < 2^32 and we stop once the product passes the limit.
  let payloadBytes = type.bytes;
  for (const d of shape) payloadBytes = Math.min(payloadBytes * d, 2 ** 53);
  if (payloadBytes > MAX_IDX_PAYLOAD_BYTES) {
    throw corruptFile(
      source,
      `the header declares ${type.dtype} dimensions ${showShape(shape)}, ` +
        `${payloadBytes} bytes of data, more than the ${MAX_IDX_PAYLOAD_BYTES} this reader accepts`,
    );
  }
  return { dtype: type.dtype, shape, headerBytes, payloadBytes };
}

/**
 * Parses an uncompressed IDX file (the MNIST format): checks the header, that the payload is
 * exactly prod(shape) × element size bytes, and converts big-endian elements to native order.
 */
export function readIdx(bytes: Uint8Array, source = "IDX data"): IdxData {
  const { dtype, shape, headerBytes, payloadBytes } = readIdxHeader(bytes, source);
  const got = bytes.length - headerBytes;
  if (got !== payloadBytes) {
    const why = got < payloadBytes ? "truncated" : `${got - payloadBytes} extra bytes`;
    throw corruptFile(
      source,
      `size mismatch: ${dtype} dimensions ${showShape(shape)} need ${payloadBytes} data bytes ` +
        `after the ${headerBytes}-byte header, got ${got} (${why})`,
    );
  }
  return { dtype, shape, data: decode(dtype, bytes.subarray(headerBytes)) };
}

/** Copies the payload into a fresh array of `dtype`, swapping big-endian words to native. */
function decode(dtype: IdxDType, payload: Uint8Array): IdxArray {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  switch (dtype) {
    case "uint8":
      return new Uint8Array(payload);
    case "int8":
      return new Int8Array(new Uint8Array(payload).buffer);
    case "int16": {
      const out = new Int16Array(payload.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(payload.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(payload.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(payload.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

const CODES: Readonly<Record<IdxDType, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

/** Encodes an IDX file (the inverse of readIdx): header, then big-endian elements. */
export function writeIdx({ dtype, shape, data }: IdxData): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length === 0 || shape.length > 255 || data.length !== size) {
    throw argumentError(
      "writeIdx",
      `shape ${showShape(shape)} needs 1–255 dimensions and ${size} elements, got ${data.length}`,
    );
  }
  const bytes = new Uint8Array(4 + 4 * shape.length + size * TYPES[CODES[dtype]]!.bytes);
  const view = new DataView(bytes.buffer);
  bytes[2] = CODES[dtype];
  bytes[3] = shape.length;
  shape.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  const at = 4 + 4 * shape.length;
  const put: (i: number, v: number) => void = {
    uint8: (i: number, v: number) => view.setUint8(at + i, v),
    int8: (i: number, v: number) => view.setInt8(at + i, v),
    int16: (i: number, v: number) => view.setInt16(at + 2 * i, v, false),
    int32: (i: number, v: number) => view.setInt32(at + 4 * i, v, false),
    float32: (i: number, v: number) => view.setFloat32(at + 4 * i, v, false),
    float64: (i: number, v: number) => view.setFloat64(at + 8 * i, v, false),
  }[dtype];
  for (let i = 0; i < size; i++) put(i, data[i]!);
  return bytes;
}
