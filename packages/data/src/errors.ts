import { TapegradError } from "@tapegrad/autodiff";

/** Formats a shape the way every tapegrad error message shows it: `[2,3]`. */
export function showShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

export function argumentError(where: string, message: string): TapegradError {
  return new TapegradError("INVALID_ARGUMENT", `${where}: ${message}`);
}

export function shapeError(where: string, message: string): TapegradError {
  return new TapegradError("SHAPE_MISMATCH", `${where}: ${message}`);
}

export function corruptFile(source: string, message: string): TapegradError {
  return new TapegradError("CORRUPT_FILE", `${source}: ${message}`);
}
