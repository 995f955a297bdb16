import { TapegradError, isTensor, tensor, treeFlatten, type Tensor } from "@tapegrad/autodiff";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const utf8 = (text: string) => new TextEncoder().encode(text);

/** A safetensors file: the 8-byte length (the header's, unless overridden), header, data. */
function file(header: string | Uint8Array, data: Uint8Array | number = 0, length?: bigint) {
  const head = typeof header === "string" ? utf8(header) : header;
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const bytes = new Uint8Array(8 + head.length + body.length);
  new DataView(bytes.buffer).setBigUint64(0, length ?? BigInt(head.length), true);
  bytes.set(head, 8);
  bytes.set(body, 8 + head.length);
  return bytes;
}

/** A file whose header is `entries` as JSON, with `data` bytes of data. */
function fileOf(entries: Record<string, unknown>, data: number) {
  return file(JSON.stringify(entries), data);
}

function corruptMessage(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(TapegradError);
    expect((error as TapegradError).code).toBe("CORRUPT_FILE");
    return (error as TapegradError).message;
  }
  throw new Error("expected decodeSafetensors to throw");
}

function expectSameValues(a: unknown, b: unknown) {
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

const f32 = (values: number[], shape = [values.length]) =>
  tensor(new Float32Array(values), { shape });
const f64 = (values: number[], shape = [values.length]) =>
  tensor(new Float64Array(values), { shape });
const i32 = (values: number[], shape = [values.length]) =>
  tensor(new Int32Array(values), { shape });

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

describe("decodeSafetensors rejects malformed files with CORRUPT_FILE", () => {
  const w = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

  it("truncated files and impossible header lengths, before allocating anything", () => {
    expect(corruptMessage(new Uint8Array(5))).toBe(
      "safetensors: file is 5 bytes, too short for the 8-byte header length",
    );
    const valid = encodeSafetensors({ w: f32([1, 2]) });
    expect(corruptMessage(valid.subarray(0, 20))).toBe(
      "safetensors: header length is 56 bytes but only 12 bytes follow the length field",
    );
    expect(corruptMessage(valid.subarray(0, valid.length - 4))).toBe(
      'safetensors: tensor "w" has data_offsets [0,8] but the data buffer is 4 bytes',
    );
    expect(corruptMessage(file("{}", 0, 2n ** 53n))).toBe(
      "safetensors: header length is 9007199254740992 bytes, over the 100000000-byte limit",
    );
    expect(corruptMessage(file("{}", 0, 2n ** 64n - 1n))).toMatch(
      /18446744073709551615 bytes, over/,
    );
    expect(corruptMessage(file("{}", 0, 100_000_001n))).toMatch(/over the 100000000-byte limit/);
    expect(corruptMessage(file("{}", 0, 1n))).toBe(
      'safetensors: header length is 1 bytes; expected at least 2 (the header "{}")',
    );
  });

  it("headers that are not UTF-8 JSON objects opening with {", () => {
    expect(corruptMessage(file('{"a":1'))).toMatch(/^safetensors: header is not valid JSON \(/);
    expect(corruptMessage(file(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))).toBe(
      "safetensors: header is not valid UTF-8",
    );
    expect(corruptMessage(file("[1,2]"))).toBe(
      "safetensors: header must be a JSON object, got an array",
    );
    expect(corruptMessage(file("null"))).toBe(
      "safetensors: header must be a JSON object, got null",
    );
    expect(corruptMessage(file(" {}"))).toBe(
      'safetensors: header must begin with "{" (byte 0x7b), got byte 0x20',
    );
    expect(corruptMessage(file('{"__metadata__":[]}'))).toBe(
      'safetensors: "__metadata__" must be an object, got an array',
    );
  });

  it("unknown dtypes and malformed entries", () => {
    expect(corruptMessage(fileOf({ w: { ...w, dtype: "F16" } }, 8))).toBe(
      'safetensors: tensor "w" has dtype "F16"; expected one of F32, F64, I32',
    );
    expect(corruptMessage(fileOf({ w: { ...w, dtype: 4 } }, 8))).toBe(
      'safetensors: tensor "w" has dtype 4; expected one of F32, F64, I32',
    );
    expect(corruptMessage(fileOf({ w: 3 }, 8))).toBe(
      'safetensors: tensor "w" must be an object, got a number',
    );
    expect(corruptMessage(fileOf({ w: { dtype: "F32", shape: [2] } }, 8))).toBe(
      'safetensors: tensor "w" has no "data_offsets"',
    );
    expect(corruptMessage(fileOf({ w: { ...w, extra: 1 } }, 8))).toBe(
      'safetensors: tensor "w" has an unexpected field "extra"',
    );
  });

  it("negative, fractional and non-numeric shapes", () => {
    const expected = (shape: string) =>
      `safetensors: tensor "w" has shape ${shape}; expected an array of non-negative integers`;
    expect(corruptMessage(fileOf({ w: { ...w, shape: [2, -1] } }, 8))).toBe(expected("[2,-1]"));
    expect(corruptMessage(fileOf({ w: { ...w, shape: [0.5, 4] } }, 8))).toBe(expected("[0.5,4]"));
    expect(corruptMessage(fileOf({ w: { ...w, shape: ["2"] } }, 8))).toBe(expected('["2"]'));
    expect(corruptMessage(fileOf({ w: { ...w, shape: 2 } }, 8))).toBe(expected("2"));
    expect(
      corruptMessage(file('{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}', 8)),
    ).toBe(expected("[null]"));
  });

  it("offsets that are malformed, past the buffer or disagree with dtype and shape", () => {
    expect(corruptMessage(fileOf({ w: { ...w, data_offsets: [0] } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0]; expected [begin, end] in bytes',
    );
    expect(corruptMessage(fileOf({ w: { ...w, data_offsets: [8, 0] } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [8,0] with begin > end',
    );
    // A tiny file claiming a 4 TiB tensor: rejected by arithmetic, nothing allocated.
    const huge = { dtype: "F32", shape: [2 ** 40], data_offsets: [0, 2 ** 42] };
    expect(corruptMessage(fileOf({ w: huge }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0,4398046511104] but the data buffer is 8 bytes',
    );
    // The shape's product disagrees with the byte count.
    const conv = { dtype: "F32", shape: [4, 5], data_offsets: [0, 96] };
    expect(corruptMessage(fileOf({ "conv1.weight": conv }, 96))).toBe(
      'safetensors: tensor "conv1.weight" has data_offsets [0,96] (96 bytes) but F32 [4,5] needs 80 bytes',
    );
    // The dtype's element size disagrees with the byte count: two F64s need 16 bytes.
    expect(corruptMessage(fileOf({ w: { ...w, dtype: "F64" } }, 8))).toBe(
      'safetensors: tensor "w" has data_offsets [0,8] (8 bytes) but F64 [2] needs 16 bytes',
    );
  });

  it("overlaps, gaps and bytes that belong to no tensor", () => {
    const at = (begin: number) => ({ dtype: "F32", shape: [2], data_offsets: [begin, begin + 8] });
    expect(corruptMessage(fileOf({ a: at(0), b: at(4) }, 12))).toBe(
      'safetensors: tensors "a" (data_offsets [0,8]) and "b" (data_offsets [4,12]) overlap',
    );
    expect(corruptMessage(fileOf({ a: at(0), b: at(0) }, 8))).toMatch(/"a" .* and "b" .* overlap/);
    expect(corruptMessage(fileOf({ a: at(0), b: at(12) }, 20))).toBe(
      'safetensors: data bytes [8,12) belong to no tensor (gap after "a", before "b"); ' +
        'expected "b" to begin at 8',
    );
    expect(corruptMessage(fileOf({ b: at(4) }, 12))).toMatch(
      /\[0,4\) belong to no tensor \(gap at the start/,
    );
    expect(corruptMessage(fileOf({ a: at(0) }, 12))).toBe(
      "safetensors: the tensors cover 8 bytes but the data buffer is 12 bytes " +
        "(bytes [8,12) belong to no tensor)",
    );
    expect(corruptMessage(fileOf({}, 4))).toMatch(/cover 0 bytes but the data buffer is 4 bytes/);
  });

  it("names that are not dotted paths or do not form a tree", () => {
    const one = { dtype: "F32", shape: [], data_offsets: [0, 4] };
    const two = { dtype: "F32", shape: [], data_offsets: [4, 8] };
    expect(corruptMessage(file(`{"__proto__":${JSON.stringify(one)}}`, 4))).toBe(
      'safetensors: tensor name "__proto__" uses the reserved key "__proto__"',
    );
    expect(corruptMessage(fileOf({ "a.__proto__.b": one }, 4))).toMatch(/reserved key "__proto__"/);
    expect(corruptMessage(fileOf({ "a..b": one }, 4))).toBe(
      'safetensors: tensor name "a..b" is not a dotted path (empty segment)',
    );
    expect(corruptMessage(fileOf({ "": one }, 4))).toMatch(/tensor name "" is not a dotted path/);
    expect(corruptMessage(fileOf({ a: one, "a.b": two }, 8))).toMatch(
      /^safetensors: tensor names do not form a tree \(.*"a\.b" passes through the leaf "a"\)$/,
    );
  });

  it("metadata that is not strings, and a bad numbers marker", () => {
    const one = { dtype: "F64", shape: [], data_offsets: [0, 8] };
    expect(corruptMessage(fileOf({ __metadata__: { epoch: 3 } }, 0))).toBe(
      'safetensors: "__metadata__" value "epoch" must be a string, got a number',
    );
    expect(corruptMessage(file('{"__metadata__":{"__proto__":"x"}}'))).toBe(
      'safetensors: "__metadata__" has the reserved key "__proto__"',
    );
    const marked = (marker: string, entry: object = one) =>
      fileOf({ __metadata__: { "tapegrad.numbers": marker }, step: entry }, 8);
    expect(corruptMessage(marked("step"))).toBe(
      'safetensors: metadata "tapegrad.numbers" must be a JSON array of names, got "step"',
    );
    expect(corruptMessage(marked('["epoch"]'))).toBe(
      'safetensors: metadata "tapegrad.numbers" names "epoch", not in the file',
    );
    expect(corruptMessage(marked('["step"]', { ...one, dtype: "I32", shape: [2] }))).toBe(
      'safetensors: metadata "tapegrad.numbers" names "step", which is I32 [2]; expected F64 []',
    );
  });

  it("survives a pathologically nested header", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const message = corruptMessage(
      file(`{"w":{"dtype":${deep},"shape":[],"data_offsets":[0,4]}}`, 4),
    );
    expect(message).toMatch(/^safetensors: (tensor "w" has dtype .*|header is not valid JSON)/);
  });
});

describe("decodeSafetensors properties", () => {
  const dtypeArb = fc.constantFrom("float32", "float64", "int32");
  const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
  const tensorArb = fc
    .tuple(dtypeArb, shapeArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }))
    .map(([dtype, shape, seed]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: size }, (_, i) => ((seed + i * 7919) % 2001) - 1000);
      if (dtype === "int32") return i32(values, shape);
      const scaled = values.map((v) => v / 7);
      return dtype === "float32" ? f32(scaled, shape) : f64(scaled, shape);
    });
  const keyArb = fc.oneof(
    fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,5}$/),
    fc.constantFrom("é", "0", "constructor", "x y"),
  );
  const leafArb = fc.oneof(tensorArb, fc.double(), fc.integer());
  const treeArb = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      leafArb,
      fc.array(tie("node"), { minLength: 1, maxLength: 3 }),
      fc.dictionary(
        keyArb.filter((k) => k !== "__proto__"),
        tie("node"),
        { minKeys: 1, maxKeys: 3 },
      ),
    ),
  })).node;
  const rootArb = fc.dictionary(
    keyArb.filter((k) => k !== "__metadata__"),
    treeArb,
    { maxKeys: 4 },
  );
  const metadataArb = fc.dictionary(
    fc.string().filter((k) => k !== "__proto__" && k !== "tapegrad.numbers"),
    fc.string(),
    { maxKeys: 3 },
  );

  it("random trees round-trip, and re-encoding is byte-identical", () => {
    fc.assert(
      fc.property(rootArb, metadataArb, (tree, metadata) => {
        const bytes = encodeSafetensors(tree, metadata);
        const loaded = decodeSafetensors(bytes);
        expectSameValues(tree, loaded.tree);
        expect(loaded.metadata).toEqual(metadata);
        expect(encodeSafetensors(loaded.tree, loaded.metadata)).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it("mutated files decode to a valid tree or throw TapegradError, never anything else", () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        at: fc.nat(),
        // Any byte, or one that keeps the header valid UTF-8 and often valid JSON.
        byte: fc.oneof(
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom(...'0123456789-.,:[]{}" e'.split("").map((c) => c.charCodeAt(0))),
        ),
      }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("grow" as const), at: fc.nat({ max: 16 }) }),
    );
    fc.assert(
      fc.property(
        rootArb,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (tree, mutations) => {
          let bytes = encodeSafetensors(tree, { note: "x" });
          for (const m of mutations) {
            if (m.kind === "set") {
              bytes = bytes.slice();
              bytes[m.at % bytes.length] = m.byte;
            } else if (m.kind === "cut") {
              bytes = bytes.slice(0, m.at % (bytes.length + 1));
            } else {
              const grown = new Uint8Array(bytes.length + m.at);
              grown.set(bytes);
              bytes = grown;
            }
          }
          try {
            const { tree: loaded, metadata } = decodeSafetensors(bytes);
            for (const [, leaf] of treeFlatten(loaded)) {
              expect(isTensor(leaf) || typeof leaf === "number").toBe(true);
            }
            for (const value of Object.values(metadata)) expect(typeof value).toBe("string");
          } catch (error) {
            expect(error).toBeInstanceOf(TapegradError);
            expect((error as TapegradError).code).toBe("CORRUPT_FILE");
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
