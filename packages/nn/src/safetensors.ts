import { tensor, treeUnflatten, type Tensor, type Tree, type TypedArray } from "@tapegrad/autodiff";
import { FILE_DTYPE, NUMBERS_KEY, shapeProduct } from "./safetensors/format.js";
import { readHeader } from "./safetensors/header.js";
import { readElements } from "./safetensors/elements.js";
import { writeLittleEndian } from "./safetensors/littleEndian.js";
import { argumentError, corrupt, showShape } from "./safetensors/messages.js";
import { checkedMetadata, flattenForSave } from "./safetensors/saveInputs.js";

// Safetensors files (https://github.com/huggingface/safetensors): the layout and dtype codes are
// in safetensors/format.ts, the header checks in safetensors/header.ts.

export { MAX_HEADER_BYTES, NUMBERS_KEY } from "./safetensors/format.js";
export { readHeaderLength } from "./safetensors/header.js";

/** A decoded file: the tree of tensors and numbers, and the user's string metadata. */
export interface Checkpoint {
  /** The saved tree of tensors and numbers, rebuilt from the dotted tensor names. */
  readonly tree: Tree<Tensor | number>;
  /** String key–value pairs stored in the file's `__metadata__`. */
  readonly metadata: Record<string, string>;
}

/**
 * Encodes a tree of tensors (float32/float64/int32) and numbers as safetensors bytes. Names are
 * the dotted tree paths in tree order, metadata keys are sorted and the header is padded with
 * spaces to a multiple of 8 (as the reference writer does), so equal trees give equal bytes.
 * Numbers become float64 0-d tensors listed under the `tapegrad.numbers` metadata key.
 * Empty objects and arrays are not stored; an object with keys 0…n−1 loads back as an array.
 */
export function encodeSafetensors(
  tree: unknown,
  metadata: Record<string, string> = {},
): Uint8Array {
  const leaves = flattenForSave(tree);
  const meta = checkedMetadata(metadata);
  const numbers = leaves.filter(([, leaf]) => typeof leaf === "number").map(([name]) => name);
  if (numbers.length > 0) meta.set(NUMBERS_KEY, JSON.stringify(numbers));

  const parts: string[] = [];
  if (meta.size > 0) {
    // Written by hand: an object would move integer-like keys ("2") ahead of the others.
    const sorted = [...meta.keys()].sort();
    const fields = sorted.map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta.get(k))}`);
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  const arrays: TypedArray[] = [];
  let offset = 0;
  for (const [name, leaf] of leaves) {
    const data = typeof leaf === "number" ? new Float64Array([leaf]) : leaf.data;
    const shape = typeof leaf === "number" ? [] : [...leaf.shape];
    if (typeof leaf !== "number" && shapeProduct(shape) !== data.length) {
      throw argumentError(`"${name}" has shape ${showShape(shape)} but ${data.length} elements`);
    }
    const dtype = FILE_DTYPE[typeof leaf === "number" ? "float64" : leaf.dtype];
    const info = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    arrays.push(data);
    offset += data.byteLength;
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const data of arrays) {
    writeLittleEndian(view, position, data);
    position += data.byteLength;
  }
  return bytes;
}

/**
 * Decodes safetensors bytes into `{ tree, metadata }`, validating the whole header first: any
 * defect throws a CORRUPT_FILE error that names it. Files from other frameworks load too: F16 and
 * BF16 tensors as float32 (exactly), I64, I8, U8 and BOOL as int32 (an I64 value outside int32
 * is an INVALID_ARGUMENT error naming the tensor). Memory use is bounded by the input: the
 * header length is checked against the byte count before anything is read or allocated.
 */
export function decodeSafetensors(bytes: Uint8Array): Checkpoint {
  const { dataStart, entries, metadata, numbers } = readHeader(bytes);
  const leaves = entries.map((e): [string, Tensor | number] => {
    const data = readElements(bytes, dataStart + e.begin, e);
    if (numbers.has(e.name)) return [e.name, data[0]!];
    return [e.name, tensor(data, { shape: e.shape, dtype: e.dtype })];
  });
  let tree: Tree<Tensor | number>;
  try {
    tree = treeUnflatten(leaves) as Tree<Tensor | number>;
  } catch (error) {
    // A name that passes through a leaf ("a" and "a.b"): the names do not form a tree.
    throw corrupt(`tensor names do not form a tree (${(error as Error).message})`);
  }
  return { tree, metadata };
}
