import { add } from "../ops/binary.js";
import { cast } from "../ops/cast.js";
import { backward, type TapeNode } from "../tape.js";
import { Tensor } from "../tensor.js";
import { record } from "../transforms.js";
import { treeMap } from "../tree.js";

/**
 * How much rounding can move ⟨f(x), c⟩, as the size of the terms it is made of: Σ |f|·|c| for
 * the projection itself, and for every op on f's tape Σ |y|·|dy| over its outputs and
 * Σ |x|·|vjp(dy)| over each input. An op rounds its result by a few units of float64's
 * roundoff relative to these (relative to the inputs where they cancel, as in a sum of ±1s), and
 * each such error reaches ⟨f, c⟩ times its adjoint: a first-order rounding analysis. Unlike
 * |⟨f, c⟩| it stays large where f or the projection cancels.
 */
export function roundingSize(
  fn: (...args: unknown[]) => unknown,
  primals: readonly unknown[],
  cotangent: unknown,
): number {
  const { trace, out } = record(fn, [...primals]);
  let size = 0;
  const accumulate = (values: Tensor, adjoints: Tensor) => {
    const v = values.buffer;
    const g = adjoints.buffer;
    for (let i = 0; i < v.length; i++) {
      // −Infinity · 0 (a masked score that nothing depends on) rounds nothing.
      const term = Math.abs(v[i]! * g[i]!);
      if (term < Infinity) size += term;
    }
  };
  const outputs: Tensor[] = [];
  const cotangents: Tensor[] = [];
  treeMap(
    (y: unknown, c: unknown) => {
      if (!(y instanceof Tensor && c instanceof Tensor)) return null;
      accumulate(y, c);
      if (y.trace === trace) {
        outputs.push(y);
        cotangents.push(c);
      }
      return null;
    },
    out,
    cotangent,
  );
  const observe = (node: TapeNode, dys: readonly Tensor[], grads: readonly (Tensor | null)[]) => {
    node.innerOutputs.forEach((y, k) => accumulate(y, dys[k]!));
    grads.forEach((g, i) => {
      if (g !== null && g !== undefined) accumulate(node.innerInputs[i]!, g);
    });
  };
  backward(trace, outputs, cotangents, add, (g, x) => cast(g, x.dtype), observe);
  return size;
}
