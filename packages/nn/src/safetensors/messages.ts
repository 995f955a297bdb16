import { TapegradError, isTensor } from "@tapegrad/autodiff";

/** A CORRUPT_FILE error for a defect of the bytes being decoded. */
export function corrupt(message: string): TapegradError {
  return new TapegradError("CORRUPT_FILE", `safetensors: ${message}`);
}

/** An INVALID_ARGUMENT error for a tree or metadata that cannot be encoded. */
export function argumentError(message: string): TapegradError {
  return new TapegradError("INVALID_ARGUMENT", `encodeSafetensors: ${message}`);
}

/** A shape as error messages show it: `[2,3]`. */
export function showShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** A JSON value for an error message, cut short so a hostile header cannot flood it. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Nesting deep enough to overflow the stack: JSON.parse accepts it, JSON.stringify does not.
    return kindOf(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** What kind of value this is, for the "got …" of a message: `null`, `an array`, `a string`. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isTensor(value)) return "a tensor";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
