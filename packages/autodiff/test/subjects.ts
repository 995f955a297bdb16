import { jvp, vjp, type RegisteredOp, type Tensor } from "../src/index.js";

/** An op's result as a list, one tensor per output. */
export const outputsOf = (y: Tensor | readonly Tensor[]): readonly Tensor[] =>
  Array.isArray(y) ? y : [y as Tensor];

/** One function a registry-wide suite checks: a name for failures, the function, its inputs. */
export interface Subject {
  readonly name: string;
  readonly apply: (xs: Tensor[]) => Tensor | readonly Tensor[];
  readonly inputs: readonly Tensor[];
}

/**
 * The functions checked for `op` at a sample: the op itself, and for a differentiable op its
 * pullback (of the inputs and one cotangent per output) and its jvp (of inputs and tangents).
 */
export function subjects(op: RegisteredOp, inputs: readonly Tensor[], attrs: unknown): Subject[] {
  const f = (...xs: Tensor[]) => op.apply(xs, attrs);
  const list: Subject[] = [{ name: op.definition.name, apply: (xs: Tensor[]) => f(...xs), inputs }];
  const outputs = outputsOf(f(...inputs));
  if (op.definition.vjp === undefined || outputs.some((y) => y.dtype === "int32")) return list;
  const n = inputs.length;
  const single = !Array.isArray(f(...inputs));
  list.push({
    name: `vjp of ${op.definition.name}`,
    apply: (xs: Tensor[]) => {
      const dys = xs.slice(n);
      return vjp(f, ...xs.slice(0, n))[1](single ? dys[0]! : dys);
    },
    inputs: [...inputs, ...outputs],
  });
  list.push({
    name: `jvp of ${op.definition.name}`,
    apply: (xs: Tensor[]) => jvp(f, xs.slice(0, n), xs.slice(n))[1],
    inputs: [...inputs, ...inputs],
  });
  return list;
}
