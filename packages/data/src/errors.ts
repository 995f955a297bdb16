import { TapegradError } from "@tapegrad/autodiff";

// The shared constructors and formatting, so data's messages read like the ops'; CORRUPT_FILE
// and the file system errors below are data's own.
export { argumentError, shapeError, showShape } from "@tapegrad/autodiff";

/** A CORRUPT_FILE error `<source>: <message>`: a file whose bytes do not match its format. */
export function corruptFile(source: string, message: string): TapegradError {
  return new TapegradError("CORRUPT_FILE", `${source}: ${message}`);
}

/**
 * A file system error as a tapegrad error: NOT_FOUND for a missing file or directory, else
 * IO_ERROR (permissions, a directory where a file was expected, a full disk, a file too large to
 * read); the original error is kept as `cause`.
 */
export function fileError(where: string, path: string, error: unknown): TapegradError {
  if (error instanceof TapegradError) return error;
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : "";
  if (code === "ENOENT") {
    return new TapegradError("NOT_FOUND", `${where}: no file at "${path}"`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new TapegradError("IO_ERROR", `${where}: cannot access "${path}" (${detail})`, {
    cause: error,
  });
}
