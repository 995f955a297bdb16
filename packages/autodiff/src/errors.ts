/** Stable machine-readable categories of every error tapegrad throws (docs/errors.md). */
export type ErrorCode =
  | "SHAPE_MISMATCH"
  | "INVALID_ARGUMENT"
  | "DTYPE_MISMATCH"
  | "NON_FINITE"
  | "CORRUPT_FILE"
  | "NOT_FOUND"
  | "INVALID_STATE"
  | "GRADIENT_MISMATCH"
  | "IO_ERROR"
  | "OUT_OF_MEMORY";

/**
 * Base class of all tapegrad errors; `code` never changes between releases. `cause` keeps the
 * underlying error where there is one (a file system error, a failed allocation).
 */
export class TapegradError extends Error {
  /** The error's category, stable across releases: test it instead of matching messages. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "TapegradError";
    this.code = code;
  }
}

/** `[1,0]`: the multi-index of flat element `flat` of `shape` (empty for a scalar). */
export function showIndex(shape: readonly number[], flat: number): string {
  if (shape.length === 0) return "";
  return `[${unravelIndex(shape, flat).join(",")}]`;
}

/** The multi-index of flat (row-major) element `flat` of `shape`. */
export function unravelIndex(shape: readonly number[], flat: number): number[] {
  const index = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return index;
}

/** Formats a shape the way every error message shows it: `[2,3]` (anything else via `show`). */
export function showShape(shape: readonly number[]): string {
  if (!Array.isArray(shape)) return show(shape);
  return `[${shape.map((d) => (typeof d === "number" ? String(d) : show(d))).join(",")}]`;
}

/**
 * Shows any value briefly for the "got …" of a message, and never throws: a caller's value may
 * be a symbol, a function, an object or a deeply nested array, not just the expected number.
 */
export function show(value: unknown, depth = 0): string {
  // Strings as they are (`got int64`), cut short; only the empty one needs quotes to be seen.
  if (typeof value === "string") {
    if (value === "") return '""';
    return value.length > 40 ? `${value.slice(0, 37)}...` : value;
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) {
    if (depth >= 3) return "[...]";
    const items = value.slice(0, 8).map((v) => show(v, depth + 1));
    if (value.length > 8) items.push("...");
    return `[${items.join(",")}]`;
  }
  if (typeof value === "object" && value !== null) {
    const { dtype, shape } = value as { dtype?: unknown; shape?: unknown };
    if (typeof dtype === "string" && Array.isArray(shape)) {
      return `a ${dtype} tensor of shape ${showShape(shape)}`;
    }
    return "an object";
  }
  // Numbers, booleans, null, undefined, symbols and bigints: String never throws for these.
  return String(value);
}

/** A SHAPE_MISMATCH error `<op>: <message>`, for an input whose shape the op cannot take. */
export function shapeError(op: string, message: string): TapegradError {
  return new TapegradError("SHAPE_MISMATCH", `${op}: ${message}`);
}

/** An INVALID_ARGUMENT error `<op>: <message>`, for a value of the wrong kind or out of range. */
export function argumentError(op: string, message: string): TapegradError {
  return new TapegradError("INVALID_ARGUMENT", `${op}: ${message}`);
}

/** A DTYPE_MISMATCH error `<op>: <message>`, for a tensor of a dtype the op does not take. */
export function dtypeError(op: string, message: string): TapegradError {
  return new TapegradError("DTYPE_MISMATCH", `${op}: ${message}`);
}

/** The name of input i of an op, for messages: `w`, or `xs[2]` for a list of inputs. */
export function inputName(
  op: { readonly inputs: readonly string[]; readonly variadic?: boolean },
  i: number,
): string {
  return op.variadic ? `${op.inputs[0]}[${i}]` : (op.inputs[i] ?? `input ${i}`);
}
