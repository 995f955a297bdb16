import { TapegradError, isTensor, showShape, treeFlatten, treeMap } from "@tapegrad/autodiff";

export { treeMap, treeLeaves, treeFlatten, treeUnflatten, type Tree } from "@tapegrad/autodiff";

/** Σ size over the tensor leaves of a params tree; numbers and other leaves count 0. */
export function paramCount(tree: unknown): number {
  let count = 0;
  for (const [, leaf] of treeFlatten(tree)) if (isTensor(leaf)) count += leaf.size;
  return count;
}

/**
 * Puts `loaded` (say, a checkpoint's tree) into the structure of `template` (a model's params or
 * state), matching leaves by dotted path. Every missing name, unexpected name and shape, dtype
 * or kind difference is listed in one INVALID_ARGUMENT error; nothing is loaded partially.
 */
export function loadInto<T>(template: T, loaded: unknown): T {
  const expected = treeFlatten(template);
  const got = new Map(treeFlatten(loaded));
  const problems: string[] = [];
  for (const [path, leaf] of expected) {
    if (!got.has(path)) problems.push(`missing "${path}": expected ${describe(leaf)}`);
    else if (describe(got.get(path)) !== describe(leaf)) {
      problems.push(`"${path}": expected ${describe(leaf)}, got ${describe(got.get(path))}`);
    }
  }
  const known = new Set(expected.map(([path]) => path));
  for (const [path, leaf] of got) {
    if (!known.has(path)) problems.push(`unexpected "${path}": ${describe(leaf)}`);
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 mismatch" : `${problems.length} mismatches`;
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `loadInto: the loaded tree does not match the template (${count}):\n  ${problems.join("\n  ")}`,
    );
  }
  // treeMap visits leaves in treeFlatten's order, so the i-th leaf is expected[i]'s path.
  let i = 0;
  return treeMap(() => got.get(expected[i++]![0]), template);
}

/** What a leaf must match: dtype and shape for a tensor (`float32 [5,4]`), else its kind. */
function describe(leaf: unknown): string {
  if (isTensor(leaf)) return `${leaf.dtype} ${showShape(leaf.shape)}`;
  if (leaf === null) return "null";
  return `a ${typeof leaf}`;
}
