import { TapegradError } from "@tapegrad/autodiff";
import { constants as bufferConstants } from "node:buffer";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  decodeSafetensors,
  encodeSafetensors,
  readHeaderLength,
  type Checkpoint,
} from "../safetensors.js";

/**
 * @internal The one place checkpoint bytes reach the temp file. Tests replace these to make a
 * write fail midway; production code never touches them.
 */
export const writeSeam = {
  write: (handle: FileHandle, bytes: Uint8Array): Promise<void> => handle.writeFile(bytes),
  writeSync: (fd: number, bytes: Uint8Array): void => writeFileSync(fd, bytes),
};

/**
 * Saves a tree of tensors and numbers (with string metadata) as a safetensors file, atomically
 * (see `writeFileAtomic`): `path` holds either the old file or the whole new one.
 */
export async function saveCheckpoint(
  path: string,
  tree: unknown,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeAtomically("saveCheckpoint", path, encodeSafetensors(tree, metadata));
}

/**
 * Writes `bytes` to `path` atomically: they go to a uniquely named temp file beside `path`,
 * which is fsynced and renamed over `path`, so `path` holds either the old file or the whole
 * new one, never a partial write (an exported ONNX model, say, beside the checkpoints).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeAtomically("writeFileAtomic", path, bytes);
}

async function writeAtomically(where: string, path: string, bytes: Uint8Array): Promise<void> {
  const temp = tempPath(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, "wx");
    await writeSeam.write(handle, bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw saveError(where, error, path);
  }
  // Make the rename itself durable. Best effort: some platforms cannot open or sync directories.
  try {
    const dir = await open(dirname(path), "r");
    await dir.sync().finally(() => dir.close());
  } catch {
    // The file's contents are already synced; only the directory entry may lag.
  }
}

/** `saveCheckpoint`, synchronously. */
export function saveCheckpointSync(
  path: string,
  tree: unknown,
  metadata?: Record<string, string>,
): void {
  const bytes = encodeSafetensors(tree, metadata);
  const temp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx");
    writeSeam.writeSync(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) ignoreErrors(() => closeSync(fd!));
    ignoreErrors(() => unlinkSync(temp));
    throw saveError("saveCheckpoint", error, path);
  }
  ignoreErrors(() => {
    const dir = openSync(dirname(path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  });
}

/**
 * Loads a safetensors file as `{ tree, metadata }` (see `decodeSafetensors`). The file's size is
 * checked against its header length before the rest is read, so a lying header allocates
 * nothing. Errors: NOT_FOUND for a missing file, CORRUPT_FILE (prefixed with the path).
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw loadError(error, path);
  }
  try {
    const stat = await handle.stat();
    const size = checkedSize(path, stat.isFile(), stat.size);
    const prefix = new Uint8Array(Math.min(8, size));
    await handle.read(prefix, 0, prefix.length, 0);
    readHeaderLength(prefix, size);
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return decodeSafetensors(bytes.subarray(0, filled));
  } catch (error) {
    throw loadError(error, path);
  } finally {
    await handle.close();
  }
}

/** `loadCheckpoint`, synchronously. */
export function loadCheckpointSync(path: string): Checkpoint {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw loadError(error, path);
  }
  try {
    const stat = fstatSync(fd);
    const size = checkedSize(path, stat.isFile(), stat.size);
    const prefix = new Uint8Array(Math.min(8, size));
    readSync(fd, prefix, 0, prefix.length, 0);
    readHeaderLength(prefix, size);
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const bytesRead = readSync(fd, bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return decodeSafetensors(bytes.subarray(0, filled));
  } catch (error) {
    throw loadError(error, path);
  } finally {
    closeSync(fd);
  }
}

/** A fresh name in the target's directory, so the final rename never crosses file systems. */
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
}

function checkedSize(path: string, isFile: boolean, size: number): number {
  if (!isFile)
    throw new TapegradError("INVALID_ARGUMENT", `loadCheckpoint: "${path}" is not a file`);
  if (size > bufferConstants.MAX_LENGTH) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `loadCheckpoint: "${path}" is ${size} bytes, over the ${bufferConstants.MAX_LENGTH}-byte ` +
        `limit of one buffer`,
    );
  }
  return size;
}

function saveError(where: string, error: unknown, path: string): TapegradError {
  if (errorCode(error) === "ENOENT") {
    return new TapegradError(
      "NOT_FOUND",
      `${where}: the directory "${dirname(path)}" does not exist`,
      {
        cause: error,
      },
    );
  }
  return ioError(where, error, path);
}

function loadError(error: unknown, path: string): TapegradError {
  if (errorCode(error) === "ENOENT") {
    return new TapegradError("NOT_FOUND", `loadCheckpoint: no file at "${path}"`, {
      cause: error,
    });
  }
  if (error instanceof TapegradError && error.code === "CORRUPT_FILE") {
    return new TapegradError("CORRUPT_FILE", `${path}: ${error.message}`);
  }
  return ioError("loadCheckpoint", error, path);
}

/** Tapegrad's own errors as they are; a file system error (EACCES, EISDIR, ENOSPC…) as IO_ERROR. */
function ioError(where: string, error: unknown, path: string): TapegradError {
  if (error instanceof TapegradError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new TapegradError("IO_ERROR", `${where}: cannot access "${path}" (${detail})`, {
    cause: error,
  });
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
}

function ignoreErrors(f: () => void): void {
  try {
    f();
  } catch {
    // Cleanup and best-effort syncing must not hide the original outcome.
  }
}
