import { readFile } from "node:fs/promises";
import { constants, gunzipSync } from "node:zlib";
import { corruptFile, fileError } from "../errors.js";
import { isGzip, readIdx, readIdxHeader, type IdxData } from "../formats/idx.js";

/** Largest IDX header: 4 bytes of magic and 255 dimensions of 4 bytes. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

/**
 * Reads an IDX file, raw or gzip-compressed (detected by the magic 1f 8b, whatever the name).
 * A gzip file's header is decompressed and checked first; the whole file is then decompressed
 * with a limit of exactly the size the header declares, so a lying header allocates nothing big.
 */
export async function readIdxFile(path: string): Promise<IdxData> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileError("readIdxFile", path, error);
  }
  if (!isGzip(bytes)) return readIdx(bytes, path);
  const { headerBytes, payloadBytes } = readIdxHeader(gunzipPrefix(bytes, path), path);
  const declared = headerBytes + payloadBytes;
  let raw: Uint8Array;
  try {
    raw = gunzipSync(bytes, { maxOutputLength: declared });
  } catch (error) {
    if (error instanceof RangeError) {
      throw corruptFile(
        path,
        `size mismatch: decompresses to more than the ${declared} bytes its header declares`,
      );
    }
    throw corruptFile(path, `damaged gzip data (${zlibMessage(error)})`);
  }
  return readIdx(raw, path);
}

/**
 * At least the first MAX_HEADER_BYTES decompressed bytes (fewer only if the file has fewer).
 * Sync-flush decompression of a growing prefix tolerates the cut-off stream; each try can
 * expand at most ~1000-fold, so this stays small whatever the file claims.
 */
function gunzipPrefix(bytes: Uint8Array, path: string): Uint8Array {
  for (let take = 1024; ; take *= 4) {
    const prefix = bytes.subarray(0, Math.min(take, bytes.length));
    let out: Uint8Array;
    try {
      out = gunzipSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (error) {
      throw corruptFile(path, `damaged gzip data (${zlibMessage(error)})`);
    }
    if (out.length >= MAX_HEADER_BYTES || prefix.length === bytes.length) return out;
  }
}

function zlibMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
