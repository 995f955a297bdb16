import {
  TapegradError,
  Tensor,
  argumentError,
  shapeError,
  show,
  showShape,
  type FloatDType,
  type Rng,
} from "@tapegrad/autodiff";

/**
 * Argument checks shared by the layers, combinators and initialisers. Every message reads
 * `<layer>: <argument> must be <expected>, got <value>`, formatted by the error helpers of
 * @tapegrad/autodiff (re-exported here), so nn's messages read like the ops'.
 */

export { argumentError, shapeError, show, showShape };
export type { Pair, Padding as ConvPadding } from "@tapegrad/autodiff";

/** A layer with neither params nor state has `{}` for both. */
export type NoState = Record<string, never>;

/** An INVALID_STATE error (missing state or rng): `<where>: <message>`. */
export function stateError(where: string, message: string): TapegradError {
  return new TapegradError("INVALID_STATE", `${where}: ${message}`);
}

/** `value` if it is an integer ≥ 1, else an error naming the argument. */
export function positiveInt(where: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw argumentError(where, `${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}

/** `value` if it is an integer ≥ 0, else an error naming the argument. */
export function nonNegativeInt(where: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw argumentError(where, `${name} must be an integer ≥ 0, got ${show(value)}`);
  }
  return value;
}

/** A normalised trailing shape (layerNorm, rmsNorm): a positive integer or a non-empty list. */
export function normalizedShapeOption(where: string, value: unknown): number[] {
  const list = typeof value === "number" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw argumentError(
      where,
      `normalizedShape must be a positive integer or a non-empty array of them, got ${show(value)}`,
    );
  }
  return list.map((d, i) => positiveInt(where, `normalizedShape[${i}]`, d));
}

/** A number or pair of integers ≥ min, resolved to `[height, width]`. */
export function pairOf(where: string, name: string, value: unknown, min: number): [number, number] {
  const pair = typeof value === "number" ? [value, value] : value;
  const ok =
    Array.isArray(pair) &&
    pair.length === 2 &&
    pair.every((v) => typeof v === "number" && Number.isInteger(v) && v >= min);
  if (!ok) {
    throw argumentError(
      where,
      `${name} must be an integer ≥ ${min} or a pair of them, got ${show(value)}`,
    );
  }
  return [pair[0] as number, pair[1] as number];
}

/** `value` if it is a boolean, else an error naming the option. */
export function booleanOption(where: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw argumentError(where, `${name} must be true or false, got ${show(value)}`);
  }
  return value;
}

/** A finite number in [low, high] (or [low, high) when `openHigh`). */
export function numberIn(
  where: string,
  name: string,
  value: unknown,
  low: number,
  high: number,
  openHigh = false,
): number {
  const inRange =
    typeof value === "number" &&
    value >= low &&
    (openHigh ? value < high : value <= high) &&
    Number.isFinite(value);
  if (!inRange) {
    const interval = `[${low}, ${high}${openHigh ? ")" : "]"}`;
    throw argumentError(where, `${name} must be a number in ${interval}, got ${show(value)}`);
  }
  return value as number;
}

/** `value` if it is a finite number > 0, else an error naming the argument. */
export function positiveNumber(where: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw argumentError(where, `${name} must be a positive number, got ${show(value)}`);
  }
  return value;
}

/** `value` if it is float32 or float64: params are always float. */
export function floatDType(where: string, value: unknown): FloatDType {
  if (value !== "float32" && value !== "float64") {
    throw argumentError(where, `dtype must be "float32" or "float64", got ${show(value)}`);
  }
  return value;
}

/** Checks that an init override, if given, is a function. */
export function initializerOption<F>(where: string, name: string, value: F | undefined): void {
  if (value !== undefined && typeof value !== "function") {
    throw argumentError(
      where,
      `${name} must be an initializer (rng, shape, dtype) => Tensor, got ${show(value)}`,
    );
  }
}

/** The options object itself: a plain object (factories destructure it). */
export function optionsObject(where: string, value: unknown): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw argumentError(where, `expected an options object, got ${show(value)}`);
  }
}

/**
 * `params[name]` as a tensor of `shape`, or a clear error naming the layer and the field: a
 * params tree from another model or an old checkpoint fails here rather than deep in an op.
 */
export function paramOf(
  where: string,
  params: unknown,
  name: string,
  shape: readonly number[],
): Tensor {
  const value = (params as Record<string, unknown> | undefined)?.[name];
  if (!(value instanceof Tensor)) {
    throw argumentError(
      where,
      `params.${name} must be a tensor of shape ${showShape(shape)}, got ${
        value === undefined ? "nothing" : show(value)
      }`,
    );
  }
  if (value.shape.length !== shape.length || value.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(
      where,
      `params.${name} must have shape ${showShape(shape)}, got ${showShape(value.shape)}`,
    );
  }
  return value;
}

/**
 * Runs a layer's initialiser for one parameter and checks what it returns, so that a custom
 * `weightInit` of the wrong shape fails at init, naming the layer and the parameter.
 */
export function drawParam(
  where: string,
  name: string,
  init: (rng: Rng, shape: readonly number[], dtype?: FloatDType) => Tensor,
  rng: Rng,
  shape: readonly number[],
  dtype: FloatDType,
): Tensor {
  const value = init(rng, shape, dtype);
  if (!(value instanceof Tensor)) {
    throw argumentError(where, `${name}Init must return a tensor, got ${show(value)}`);
  }
  if (value.shape.length !== shape.length || value.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(
      where,
      `${name}Init must return shape ${showShape(shape)}, got ${showShape(value.shape)}`,
    );
  }
  return value;
}
