import { getOp, type AnyOpDefinition } from "@tapegrad/autodiff";

type Vjp = NonNullable<AnyOpDefinition["vjp"]>;

/**
 * Runs fn with registered op `name`'s vjp replaced by `wrong(right)`, a planted bug, and puts the
 * right rule back afterwards: for tests that gradient checks find a faulty built-in op.
 */
export function withPlantedBug<T>(name: string, wrong: (right: Vjp) => Vjp, fn: () => T): T {
  const definition = getOp(name)!.definition as { vjp: Vjp };
  const right = definition.vjp;
  definition.vjp = wrong(right);
  try {
    return fn();
  } finally {
    definition.vjp = right;
  }
}
