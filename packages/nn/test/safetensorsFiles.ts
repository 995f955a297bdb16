import { isTensor, tensor, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import { expect } from "vitest";

/** The UTF-8 bytes of `text`. */
export const utf8 = (text: string) => new TextEncoder().encode(text);

/** A safetensors file: the 8-byte length (the header's, unless overridden), header, data. */
export function file(header: string | Uint8Array, data: Uint8Array | number = 0, length?: bigint) {
  const head = typeof header === "string" ? utf8(header) : header;
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const bytes = new Uint8Array(8 + head.length + body.length);
  new DataView(bytes.buffer).setBigUint64(0, length ?? BigInt(head.length), true);
  bytes.set(head, 8);
  bytes.set(body, 8 + head.length);
  return bytes;
}

/**
 * Checks that two trees hold the same paths and the same leaves: numbers by Object.is, tensors by
 * dtype, shape and Object.is per element.
 */
export function expectSameValues(a: unknown, b: unknown) {
  const fa = treeFlatten(a);
  const fb = treeFlatten(b);
  expect(fb.map(([p]) => p)).toEqual(fa.map(([p]) => p));
  fa.forEach(([path, x], i) => {
    const y = fb[i]![1];
    if (!isTensor(x)) {
      expect(Object.is(x, y), path).toBe(true);
      return;
    }
    expect(isTensor(y), path).toBe(true);
    expect((y as Tensor).dtype, path).toBe(x.dtype);
    expect((y as Tensor).shape, path).toEqual(x.shape);
    // Object.is per element: NaN, -0 and every bit of precision must survive.
    const [got, want] = [Array.from((y as Tensor).data), x.data];
    expect(
      got.every((v, j) => Object.is(v, want[j])),
      path,
    ).toBe(true);
  });
}

/** A float32 tensor of `values` (flat, in `shape`, 1-D by default). */
export const f32 = (values: number[], shape = [values.length]) =>
  tensor(new Float32Array(values), { shape });
/** A float64 tensor of `values` (flat, in `shape`, 1-D by default). */
export const f64 = (values: number[], shape = [values.length]) =>
  tensor(new Float64Array(values), { shape });
/** An int32 tensor of `values` (flat, in `shape`, 1-D by default). */
export const i32 = (values: number[], shape = [values.length]) =>
  tensor(new Int32Array(values), { shape });
