import { isContainer, isTensor, type Tensor } from "@tapegrad/autodiff";
import { NUMBERS_KEY } from "./format.js";
import { argumentError, kindOf } from "./messages.js";

/** The leaves with their paths, checking that the tree will load back with the same structure. */
export function flattenForSave(tree: unknown): [string, Tensor | number][] {
  if (!isContainer(tree)) {
    throw argumentError(`the tree must be an object or array of tensors, got ${kindOf(tree)}`);
  }
  const leaves: [string, Tensor | number][] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, join(path, String(i))));
    } else if (isContainer(node)) {
      for (const [key, child] of Object.entries(node)) {
        checkKey(key, path);
        visit(child, join(path, key));
      }
    } else if (isTensor(node) || typeof node === "number") {
      leaves.push([path, node]);
    } else {
      throw argumentError(`"${path}" is ${kindOf(node)}; only tensors and numbers can be saved`);
    }
  };
  visit(tree, "");
  return leaves;
}

function checkKey(key: string, parent: string): void {
  const where = parent === "" ? "the tree" : `"${parent}"`;
  if (key === "") throw argumentError(`${where} has an empty key`);
  if (key.includes(".")) {
    throw argumentError(`${where} has the key "${key}"; keys with dots cannot load back`);
  }
  if (key === "__proto__" || (parent === "" && key === "__metadata__")) {
    throw argumentError(`${where} has the reserved key "${key}"`);
  }
}

/** The user's metadata as a map, checked to be strings under keys that are not reserved. */
export function checkedMetadata(metadata: Record<string, string>): Map<string, string> {
  if (!isContainer(metadata) || Array.isArray(metadata)) {
    throw argumentError(`metadata must be an object of strings, got ${kindOf(metadata)}`);
  }
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(metadata)) {
    if (key === NUMBERS_KEY || key === "__proto__") {
      throw argumentError(`metadata key "${key}" is reserved`);
    }
    if (typeof value !== "string") {
      throw argumentError(`metadata "${key}" must be a string, got ${kindOf(value)}`);
    }
    out.set(key, value);
  }
  return out;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}
