import { TapegradError, isTensor, treeFlatten } from "@tapegrad/autodiff";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import { expectSameValues, f32, f64, i32 } from "../test/safetensorsFiles.js";

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
