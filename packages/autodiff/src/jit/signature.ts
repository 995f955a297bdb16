import { Tensor } from "../tensor.js";

/**
 * The key of jit's cache for a call: two calls share a program exactly when their keys are equal.
 * Tensors of the traced arguments count by shape and dtype; numbers, strings and the like by
 * value; static arguments' tensors and every other object by identity.
 */
export function signature(args: readonly unknown[], statics: ReadonlySet<number>): string {
  return args.map((arg, i) => describe(arg, statics.has(i))).join(";");
}

function describe(value: unknown, isStatic: boolean): string {
  if (value instanceof Tensor) {
    return isStatic ? `#${identity(value)}` : `${value.dtype}[${value.shape.join(",")}]`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => describe(v, isStatic)).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `#${identity(value)}`;
    const entries = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}:${describe(v, isStatic)}`,
    );
    return `{${entries.join(",")}}`;
  }
  if (typeof value === "function") return `#${identity(value)}`;
  if (typeof value === "string") return JSON.stringify(value);
  // -0 and 0 may trace differently (1/x), so they are told apart.
  if (Object.is(value, -0)) return "-0";
  return `${typeof value}:${String(value)}`;
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

/** A number for an object, the same for as long as it lives. */
function identity(value: object): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(value, id);
  }
  return id;
}
