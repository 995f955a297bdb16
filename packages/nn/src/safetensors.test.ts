import type { Tensor } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import { expectSameValues, f32, f64, file, i32, utf8 } from "../test/safetensorsFiles.js";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

describe("encodeSafetensors / decodeSafetensors", () => {
  it("writes exactly the bytes of the reference implementation's serialization test", () => {
    // huggingface/safetensors bindings/python/tests/test_simple.py: save({"test": zeros((2,2), i32)})
    const expected = latin1(
      '@\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}' +
        "    " +
        "\x00".repeat(16),
    );
    const bytes = encodeSafetensors({ test: i32([0, 0, 0, 0], [2, 2]) });
    expect(Array.from(bytes)).toEqual(Array.from(expected));
  });

  it("reads a file built byte by byte from the format rules", () => {
    // Header order differs from data order, the header is not padded (legal: only the reference
    // writer pads), the data starts misaligned, and a 0-d and an empty tensor are included.
    const header =
      '{"b.y":{"dtype":"I32","shape":[3],"data_offsets":[8,20]},' +
      '"__metadata__":{"format":"pt","note":"h\u00e9"},' +
      '"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},' +
      '"b.x":{"dtype":"F32","shape":[1,2],"data_offsets":[20,28]},' +
      '"c":{"dtype":"F32","shape":[0,4],"data_offsets":[28,28]}}';
    const head = utf8(header);
    const bytes = new Uint8Array(8 + head.length + 28);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, head.length, true); // u64 little-endian: low word, then a zero high word
    view.setUint32(4, 0, true);
    bytes.set(head, 8);
    const data = 8 + head.length;
    expect(data % 4).not.toBe(0);
    view.setFloat64(data, -2.5, true);
    view.setInt32(data + 8, 7, true);
    view.setInt32(data + 12, -1, true);
    view.setInt32(data + 16, 2 ** 31 - 1, true);
    view.setFloat32(data + 20, 0.5, true);
    view.setFloat32(data + 24, -3, true);

    const { tree, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: "pt", note: "hé" });
    const t = tree as Record<string, any>;
    expect(Object.keys(t)).toEqual(["b", "a", "c"]);
    expect(t.a.dtype).toBe("float64");
    expect(t.a.shape).toEqual([]);
    expect(t.a.item()).toBe(-2.5);
    expect(t.b.y.dtype).toBe("int32");
    expect(Array.from(t.b.y.data)).toEqual([7, -1, 2 ** 31 - 1]);
    expect(t.b.x.dtype).toBe("float32");
    expect(t.b.x.toArray()).toEqual([[0.5, -3]]);
    expect(t.c.shape).toEqual([0, 4]);
  });

  it("reads misaligned elements from a Node Buffer, whose slice is a view, not a copy", () => {
    // An int32 step before a float64 number: the number's 8 bytes start 4 bytes off alignment.
    const bytes = encodeSafetensors({ step: i32([8], []), epoch: 3, w: f64([1.5, -2], [2]) });
    const { tree } = decodeSafetensors(Buffer.from(bytes));
    const t = tree as Record<string, any>;
    expect(t.epoch).toBe(3);
    expect(Array.from(t.w.data)).toEqual([1.5, -2]);
    expect(t.step.item()).toBe(8);
  });

  it("reads the reference test file with metadata and an unpadded 102-byte header", () => {
    // huggingface/safetensors bindings/python/tests/test_simple.py, test_deserialization_metadata
    const bytes = latin1(
      'f\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"framework":"pt"},' +
        '"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ' +
        "\x00".repeat(16),
    );
    const { tree, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ framework: "pt" });
    expect((tree as Record<string, Tensor>).test1!.toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("round-trips a nested tree of all dtypes, numbers and metadata, byte for byte", () => {
    const tree = {
      conv1: { weight: f32([0.1, -0.2, 3e-38, NaN, -0, Infinity], [1, 2, 3]), bias: f32([1]) },
      layers: [{ w: f64([Math.PI, -Number.MAX_VALUE, 5e-324], [3]) }, { w: f64([1, 2], [2, 1]) }],
      labels: i32([-(2 ** 31), 2 ** 31 - 1, 0]),
      empty: f32([], [2, 0]),
      scalar: f32([42], []),
      optimizer: { step: 1234, beta: 0.9, "10": -0, m: [f32([1, 2])] },
      epoch: 3,
      lr: NaN,
    };
    const metadata = { format: "tapegrad", zeta: "last", alpha: "first", "2": "numeric" };
    const bytes = encodeSafetensors(tree, metadata);
    const loaded = decodeSafetensors(bytes);
    expect(loaded.metadata).toEqual(metadata);
    expectSameValues(tree, loaded.tree);
    expect(loaded.tree).toMatchObject({ layers: [{}, {}], optimizer: { m: [{}] } });
    expect(typeof (loaded.tree as { epoch: unknown }).epoch).toBe("number");
    expect(encodeSafetensors(loaded.tree, loaded.metadata)).toEqual(bytes);
  });

  it("stores numbers as F64 scalars listed under the tapegrad.numbers metadata key", () => {
    const bytes = encodeSafetensors({ epoch: 3, opt: { step: 10 } }, { run: "a" });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    expect(header).toEqual({
      __metadata__: { run: "a", "tapegrad.numbers": '["epoch","opt.step"]' },
      epoch: { dtype: "F64", shape: [], data_offsets: [0, 8] },
      "opt.step": { dtype: "F64", shape: [], data_offsets: [8, 16] },
    });
    expect(decodeSafetensors(bytes)).toEqual({
      tree: { epoch: 3, opt: { step: 10 } },
      metadata: { run: "a" },
    });
  });

  it("is deterministic: metadata order does not matter, the empty tree is 16 bytes", () => {
    const t = { a: f32([1]) };
    expect(encodeSafetensors(t, { x: "1", y: "2" })).toEqual(
      encodeSafetensors(t, { y: "2", x: "1" }),
    );
    const empty = encodeSafetensors({});
    expect(Array.from(empty)).toEqual(Array.from(file("{}      ")));
    expect(decodeSafetensors(empty)).toEqual({ tree: {}, metadata: {} });
  });

  it("rejects trees and metadata that cannot load back as they were", () => {
    const cases: [unknown, Record<string, string> | undefined, string][] = [
      [f32([1]), undefined, "the tree must be an object or array of tensors, got a tensor"],
      [
        { "a.b": f32([1]) },
        undefined,
        `the tree has the key "a.b"; keys with dots cannot load back`,
      ],
      [{ a: { "": f32([1]) } }, undefined, `"a" has an empty key`],
      [{ ["__proto__"]: f32([1]) }, undefined, `the tree has the reserved key "__proto__"`],
      [{ __metadata__: f32([1]) }, undefined, `the tree has the reserved key "__metadata__"`],
      [
        { a: [f32([1]), "x"] },
        undefined,
        `"a.1" is a string; only tensors and numbers can be saved`,
      ],
      [{ a: null }, undefined, `"a" is null; only tensors and numbers can be saved`],
      [{ a: 1 }, { "tapegrad.numbers": "[]" }, `metadata key "tapegrad.numbers" is reserved`],
      [{ a: 1 }, { v: 2 } as never, `metadata "v" must be a string, got a number`],
    ];
    for (const [tree, metadata, message] of cases) {
      expect(() => encodeSafetensors(tree, metadata)).toThrow(`encodeSafetensors: ${message}`);
    }
  });
});
