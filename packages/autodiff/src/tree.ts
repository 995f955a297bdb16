import { argumentError } from "./errors.js";

/** A tree: nested plain objects and arrays whose other values are leaves. */
export type Tree<L> = L | readonly Tree<L>[] | { readonly [key: string]: Tree<L> };

/** Plain objects and arrays are containers; everything else (tensors, numbers, …) is a leaf. */
export function isContainer(value: unknown): value is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(value)) return true;
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The leaves in order: arrays by index, objects by key insertion order. */
export function treeLeaves(tree: unknown): unknown[] {
  const leaves: unknown[] = [];
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
    } else if (isContainer(node)) {
      const values = Object.values(node);
      for (let i = values.length - 1; i >= 0; i--) stack.push(values[i]);
    } else {
      leaves.push(node);
    }
  }
  return leaves;
}

/**
 * Applies `f` to the leaves of `tree` (and the matching leaves of `others`, which must have the
 * same structure, matched by key), returning a tree of the same structure.
 */
export function treeMap<T>(
  f: (...leaves: never[]) => unknown,
  tree: T,
  ...others: readonly unknown[]
): T {
  return mapAt(f as (...leaves: unknown[]) => unknown, tree, others, "") as T;
}

function mapAt(
  f: (...leaves: unknown[]) => unknown,
  tree: unknown,
  others: readonly unknown[],
  path: string,
): unknown {
  if (Array.isArray(tree)) {
    for (const o of others) {
      if (!Array.isArray(o) || o.length !== tree.length)
        throw structureError(path, `an array of length ${tree.length}`, o);
    }
    return tree.map((child, i) =>
      mapAt(
        f,
        child,
        others.map((o) => (o as unknown[])[i]),
        join(path, String(i)),
      ),
    );
  }
  if (isContainer(tree)) {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(tree);
    for (const o of others) {
      if (!isContainer(o) || Array.isArray(o) || Object.keys(o).length !== keys.length) {
        throw structureError(path, `an object with keys {${keys.join(", ")}}`, o);
      }
    }
    for (const key of keys) {
      const rest = others.map((o) => {
        if (!(key in (o as object))) throw structureError(join(path, key), "a value", undefined);
        return (o as Record<string, unknown>)[key];
      });
      out[key] = mapAt(f, (tree as Record<string, unknown>)[key], rest, join(path, key));
    }
    return out;
  }
  for (const o of others) {
    if (isContainer(o)) throw structureError(path, "a leaf", o);
  }
  return f(tree, ...others);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function structureError(path: string, expected: string, got: unknown) {
  let what = "a leaf";
  if (got === undefined) what = "nothing";
  else if (Array.isArray(got)) what = `an array of length ${got.length}`;
  else if (isContainer(got)) what = `an object with keys {${Object.keys(got).join(", ")}}`;
  return argumentError(
    "treeMap",
    `trees differ at "${path || "<root>"}": expected ${expected}, got ${what}`,
  );
}

/** The leaves with their dotted paths (`conv1.weight`, `layers.0.bias`), in tree order. */
export function treeFlatten(tree: unknown): [path: string, leaf: unknown][] {
  const entries: [string, unknown][] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((child, i) => visit(child, join(path, String(i))));
    else if (isContainer(node)) for (const [k, v] of Object.entries(node)) visit(v, join(path, k));
    else entries.push([path, node]);
  };
  visit(tree, "");
  return entries;
}

/**
 * Rebuilds a tree from dotted paths. A level whose keys are exactly 0…n−1 becomes an array;
 * keys containing dots cannot round-trip and are rejected by `treeFlatten`'s users.
 */
export function treeUnflatten(entries: Iterable<readonly [string, unknown]>): unknown {
  const root: Record<string, unknown> = {};
  let rootLeaf: { value: unknown } | undefined;
  for (const [path, leaf] of entries) {
    if (path === "") {
      rootLeaf = { value: leaf };
      continue;
    }
    const parts = path.split(".");
    // Paths may come from files: a "__proto__" segment must never reach Object.prototype.
    if (parts.includes("__proto__"))
      throw argumentError("treeUnflatten", `"${path}" contains the reserved key "__proto__"`);
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts[i]!;
      if (!Object.hasOwn(node, key)) node[key] = {};
      else if (!isContainer(node[key]))
        throw argumentError(
          "treeUnflatten",
          `"${path}" passes through the leaf "${parts.slice(0, i + 1).join(".")}"`,
        );
      node = node[key] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    if (Object.hasOwn(node, last))
      throw argumentError("treeUnflatten", `"${path}" appears twice or under a leaf`);
    node[last] = leaf;
  }
  if (rootLeaf !== undefined) return rootLeaf.value;
  return toArrays(root);
}

function toArrays(node: unknown): unknown {
  if (!isContainer(node) || Array.isArray(node)) return node;
  const record = node as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const k of keys) record[k] = toArrays(record[k]);
  const isList = keys.length > 0 && keys.every((k, i) => k === String(i));
  return isList ? keys.map((k) => record[k]) : record;
}
