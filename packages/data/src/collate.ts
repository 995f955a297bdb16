import { Tensor, stack, tensor } from "@tapegrad/autodiff";
import { argumentError, shapeError, showShape } from "./errors.js";

/**
 * The batch type of samples of type T: every tensor or number leaf becomes one tensor with a new
 * leading batch axis; tuples, arrays and plain objects keep their structure.
 */
export type Collated<T> = T extends Tensor | number
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: Collated<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: Collated<T[K]> }
      : never;

/**
 * Joins samples into one batch: tensors of equal shape S stack to [B, ...S]; numbers become a
 * float32 tensor [B] (return int32 tensors from `get` for class labels); tuples and objects are
 * collated field by field.
 */
export function collate<T>(samples: readonly T[]): Collated<T> {
  if (samples.length === 0) throw argumentError("collate", "cannot collate an empty batch");
  // The recursion works on unknown leaves; Collated<T> is what it builds by construction.
  return collateAt(samples, "batch") as Collated<T>;
}

function collateAt(samples: readonly unknown[], path: string): unknown {
  const first = samples[0];
  if (first instanceof Tensor) return stackTensors(samples, path, first);
  if (typeof first === "number") return collateNumbers(samples, path);
  if (Array.isArray(first)) {
    const fields = samples.map((s, i) => {
      if (!Array.isArray(s) || s.length !== first.length) {
        throw argumentError(
          "collate",
          `${path} sample ${i} is not an array of length ${first.length} like sample 0`,
        );
      }
      return s;
    });
    return first.map((_, k) =>
      collateAt(
        fields.map((s) => s[k]),
        `${path}[${k}]`,
      ),
    );
  }
  if (isPlainObject(first)) {
    const keys = Object.keys(first);
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const column = samples.map((s, i) => {
        if (!isPlainObject(s) || !(key in s)) {
          throw argumentError("collate", `${path} sample ${i} has no field "${key}" like sample 0`);
        }
        return s[key];
      });
      out[key] = collateAt(column, `${path}.${key}`);
    }
    return out;
  }
  throw argumentError(
    "collate",
    `${path} holds ${describe(first)}; samples may only hold tensors, numbers, arrays and objects`,
  );
}

function stackTensors(samples: readonly unknown[], path: string, first: Tensor): Tensor {
  const tensors = samples.map((s, i) => {
    if (!(s instanceof Tensor)) {
      throw argumentError("collate", `${path} of sample ${i} is ${describe(s)}, expected a tensor`);
    }
    if (s.shape.length !== first.shape.length || s.shape.some((d, k) => d !== first.shape[k])) {
      throw shapeError(
        "collate",
        `${path} of sample ${i} has shape ${showShape(s.shape)}, expected ${showShape(first.shape)} like sample 0`,
      );
    }
    return s;
  });
  return stack(tensors, 0);
}

function collateNumbers(samples: readonly unknown[], path: string): Tensor {
  const values = new Float32Array(samples.length);
  samples.forEach((s, i) => {
    if (typeof s !== "number") {
      throw argumentError("collate", `${path} of sample ${i} is ${describe(s)}, expected a number`);
    }
    values[i] = s;
  });
  return tensor(values);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a value of type ${typeof value}`;
}
