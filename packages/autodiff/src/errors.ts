/** Stable machine-readable categories of every error tapegrad throws. */
export type ErrorCode =
  | "SHAPE_MISMATCH"
  | "INVALID_ARGUMENT"
  | "DTYPE_MISMATCH"
  | "NON_FINITE"
  | "CORRUPT_FILE"
  | "NOT_FOUND"
  | "INVALID_STATE"
  | "GRADIENT_MISMATCH";

/** Base class of all tapegrad errors; `code` never changes between releases. */
export class TapegradError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "TapegradError";
    this.code = code;
  }
}

/** Formats a shape the way every error message shows it: `[2,3]`. */
export function showShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

export function shapeError(op: string, message: string): TapegradError {
  return new TapegradError("SHAPE_MISMATCH", `${op}: ${message}`);
}

export function argumentError(op: string, message: string): TapegradError {
  return new TapegradError("INVALID_ARGUMENT", `${op}: ${message}`);
}

export function dtypeError(op: string, message: string): TapegradError {
  return new TapegradError("DTYPE_MISMATCH", `${op}: ${message}`);
}
