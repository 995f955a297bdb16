import { TapegradError, isTensor, showShape, treeFlatten, treeMap } from "@tapegrad/autodiff";

export { treeMap, treeLeaves, treeFlatten, treeUnflatten, type Tree } from "@tapegrad/autodiff";

/** Σ size over the tensor leaves of a params tree; numbers and other leaves count 0. */
export function paramCount(tree: unknown): number {
  let count = 0;
  for (const [, leaf] of treeFlatten(tree)) if (isTensor(leaf)) count += leaf.size;
  return count;
}

/** Options of `loadInto`. */
export interface LoadIntoOptions {
  /**
   * How the loaded tree's names become the template's: a record from loaded name to template
   * path (names it does not list are kept), or a function of the loaded name returning the
   * template path, or null to leave that entry out (say, PyTorch batch norm's
   * `num_batches_tracked`, which tapegrad's batch norm does not keep).
   */
  readonly rename?: Readonly<Record<string, string>> | ((name: string) => string | null);
}

/**
 * Puts `loaded` (say, a checkpoint's tree) into the structure of `template` (a model's params or
 * state), matching leaves by dotted path, after `options.rename`. Every missing name, unexpected
 * name, name given twice and shape, dtype or kind difference is listed in one INVALID_ARGUMENT
 * error; nothing is loaded partially.
 */
export function loadInto<T>(template: T, loaded: unknown, options: LoadIntoOptions = {}): T {
  const expected = treeFlatten(template);
  const problems: string[] = [];
  const got = renamed(treeFlatten(loaded), options.rename, problems);
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

/** The loaded leaves by their template paths, after `rename`; names given twice are problems. */
function renamed(
  entries: [string, unknown][],
  rename: LoadIntoOptions["rename"],
  problems: string[],
): Map<string, unknown> {
  if (
    rename !== undefined &&
    typeof rename !== "function" &&
    (typeof rename !== "object" || rename === null)
  ) {
    throw new TapegradError(
      "INVALID_ARGUMENT",
      `loadInto: options.rename must be a record of names or a function, got ${typeof rename}`,
    );
  }
  const byPath = new Map<string, unknown>();
  const from = new Map<string, string>();
  for (const [name, leaf] of entries) {
    const path =
      rename === undefined
        ? name
        : typeof rename === "function"
          ? rename(name)
          : Object.hasOwn(rename, name)
            ? rename[name]!
            : name;
    if (path === null) continue;
    if (typeof path !== "string") {
      throw new TapegradError(
        "INVALID_ARGUMENT",
        `loadInto: options.rename gave ${typeof path} for "${name}"; expected a path or null`,
      );
    }
    if (from.has(path)) {
      problems.push(`"${path}" given twice: by "${from.get(path)}" and by "${name}"`);
      continue;
    }
    from.set(path, name);
    byPath.set(path, leaf);
  }
  return byPath;
}

/** What a leaf must match: dtype and shape for a tensor (`float32 [5,4]`), else its kind. */
function describe(leaf: unknown): string {
  if (isTensor(leaf)) return `${leaf.dtype} ${showShape(leaf.shape)}`;
  if (leaf === null) return "null";
  return `a ${typeof leaf}`;
}
