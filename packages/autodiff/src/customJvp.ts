import { TapegradError, argumentError, show, showShape } from "./errors.js";
import { anyTraced, applyFunctionOp } from "./functionOp.js";
import { shapesEqual } from "./shape.js";
import { Tensor, zerosLike } from "./tensor.js";
import { vjp } from "./transforms.js";
import { treeFlatten, treeMap } from "./tree.js";
import { vmap, type AxisSpec } from "./vmap.js";

/** The rule of `customJvp`: f's result and its directional derivative. */
export interface CustomJvpRules<Args extends unknown[], R> {
  /**
   * `[f(...primals), tangent]`: the result and its derivative along `tangents` (one per
   * argument, each with its argument's structure), with the result's structure. The tangent
   * must be linear in `tangents`; written with ops it may depend on the primals in any way.
   */
  jvp(primals: Args, tangents: Args): readonly [R, R];
  /** A name for error messages and reports (default "customJvp"). */
  readonly name?: string;
}

/**
 * f with its own derivative, given in forward mode (a numerically stable rule, a derivative
 * defined where f's ops have none, a clipped or scaled tangent). Called normally it is f; under
 * `jvp` its tangent is the rule's, and reverse mode (`grad`, `vjp`) transposes the rule, which
 * is linear in the tangents, so one rule serves both modes and every higher order. Arguments and
 * results are trees of tensors; numbers and other leaves are constants. Nothing is registered.
 * Verify a rule with `checkGrads`.
 */
export function customJvp<Args extends unknown[], R>(
  f: (...args: Args) => R,
  rules: CustomJvpRules<Args, R>,
): (...args: Args) => R {
  if (typeof f !== "function" || typeof rules?.jvp !== "function") {
    throw argumentError("customJvp", `expected f and a jvp function, got ${show(rules)}`);
  }
  const name = rules.name ?? "customJvp";
  return (...args: Args): R => {
    if (!anyTraced(args)) return f(...args);
    return applyFunctionOp(name, args, {
      forward: (xs) => ({ out: f(...(xs as Args)), saved: undefined }),
      vjp: ({ args: xs, cotangent }) => {
        const primals = xs as Args;
        // The tangent map t ↦ J·t is linear: its vjp, taken anywhere (at 0), is Jᵀ.
        const tangentOf = (...tangents: Args) => {
          const tangent = rules.jvp(primals, tangents)[1];
          checkTangent(name, tangent, cotangent);
          return tangent;
        };
        const [, transpose] = vjp(tangentOf, ...(zeroTangents(primals) as Args));
        return transpose(cotangent as R);
      },
      batched: (inAxes) => {
        const axes = inAxes as AxisSpec[];
        const mappedRule = vmap(
          (...primalsAndTangents: unknown[]) =>
            rules.jvp(
              primalsAndTangents.slice(0, axes.length) as Args,
              primalsAndTangents.slice(axes.length) as Args,
            ),
          { inAxes: [...axes, ...axes] },
        );
        return customJvp(vmap(f as (...a: unknown[]) => R, { inAxes: axes }), {
          name,
          jvp: (primals, tangents) => mappedRule(...primals, ...tangents) as readonly [R, R],
        });
      },
    }) as R;
  };
}

/** Zeros shaped like each argument's tensor leaves, 0 for numbers, other leaves as they are. */
function zeroTangents(args: readonly unknown[]): unknown[] {
  return args.map((arg) =>
    treeMap((leaf: unknown) => {
      if (leaf instanceof Tensor) return zerosLike(leaf);
      return typeof leaf === "number" ? 0 : leaf;
    }, arg),
  );
}

/** The rule's tangent must have the result's structure and shapes (the cotangent's). */
function checkTangent(name: string, tangent: unknown, cotangent: unknown): void {
  const expected = treeFlatten(cotangent).filter(([, leaf]) => leaf instanceof Tensor);
  const got = new Map(treeFlatten(tangent));
  for (const [path, leaf] of expected) {
    const t = got.get(path);
    const where = path === "" ? "the tangent" : `the tangent's ${path}`;
    if (!(t instanceof Tensor)) {
      throw new TapegradError(
        "SHAPE_MISMATCH",
        `${name}: jvp must return [result, tangent] with the tangent shaped like the result; ` +
          `${where} is ${show(t)}, expected a tensor of shape ${showShape((leaf as Tensor).shape)}`,
      );
    }
    if (!shapesEqual(t.shape, (leaf as Tensor).shape)) {
      throw new TapegradError(
        "SHAPE_MISMATCH",
        `${name}: jvp returned ${where} of shape ${showShape(t.shape)}, expected ` +
          `${showShape((leaf as Tensor).shape)} (the result's)`,
      );
    }
  }
}
