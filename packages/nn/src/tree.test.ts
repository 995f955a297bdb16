import * as autodiff from "@tapegrad/autodiff";
import { TapegradError, tensor, zeros } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import { loadInto, paramCount, treeFlatten, treeLeaves, treeMap, treeUnflatten } from "./tree.js";

const params = () => ({
  fc1: { weight: zeros([5, 4]), bias: zeros([5]) },
  blocks: [{ scale: zeros([3], "float64") }, { scale: zeros([3], "float64") }],
  step: 0,
});

function thrown(f: () => unknown): TapegradError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(TapegradError);
    return error as TapegradError;
  }
  throw new Error("expected an error");
}

describe("tree utilities", () => {
  it("are autodiff's own functions", () => {
    expect(treeMap).toBe(autodiff.treeMap);
    expect(treeLeaves).toBe(autodiff.treeLeaves);
    expect(treeFlatten).toBe(autodiff.treeFlatten);
    expect(treeUnflatten).toBe(autodiff.treeUnflatten);
  });

  it("paramCount sums the sizes of tensor leaves and ignores numbers", () => {
    expect(paramCount(params())).toBe(5 * 4 + 5 + 3 + 3);
    expect(paramCount({})).toBe(0);
    expect(paramCount({ empty: zeros([0, 7]), scalar: tensor(1), n: 12 })).toBe(1);
  });
});

describe("loadInto", () => {
  it("returns the loaded leaves in the template's structure", () => {
    const template = params();
    // A checkpoint's tree: arrays and key order as the file had them.
    const loaded = {
      step: 7,
      blocks: {
        1: { scale: tensor([4, 5, 6], { dtype: "float64" }) },
        0: { scale: zeros([3], "float64") },
      },
      fc1: { bias: tensor([1, 2, 3, 4, 5]), weight: zeros([5, 4]) },
    };
    const out = loadInto(template, loaded);
    expect(Object.keys(out)).toEqual(["fc1", "blocks", "step"]);
    expect(Object.keys(out.fc1)).toEqual(["weight", "bias"]);
    expect(Array.isArray(out.blocks)).toBe(true);
    expect(out.step).toBe(7);
    expect(out.fc1.bias).toBe(loaded.fc1.bias);
    expect(Array.from(out.blocks[1]!.scale.data)).toEqual([4, 5, 6]);
  });

  it("round-trips through a checkpoint", () => {
    const template = params();
    const { tree } = decodeSafetensors(encodeSafetensors({ ...template, step: 3 }));
    expect(loadInto(template, tree).step).toBe(3);
  });

  it("lists every missing name, unexpected name and shape, dtype or kind difference in one error", () => {
    const loaded = {
      fc1: { weight: zeros([4, 5]) },
      blocks: [{ scale: zeros([3], "float32") }, { scale: zeros([3], "float64") }],
      step: zeros([]),
      fc2: { weight: zeros([2, 2]) },
      extra: 1,
    };
    const error = thrown(() => loadInto(params(), loaded));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(
      [
        "loadInto: the loaded tree does not match the template (6 mismatches):",
        '  "fc1.weight": expected float32 [5,4], got float32 [4,5]',
        '  missing "fc1.bias": expected float32 [5]',
        '  "blocks.0.scale": expected float64 [3], got float32 [3]',
        '  "step": expected a number, got float32 []',
        '  unexpected "fc2.weight": float32 [2,2]',
        '  unexpected "extra": a number',
      ].join("\n"),
    );
  });

  it("renames loaded names by a record or a function, and leaves out what a function maps to null", () => {
    // PyTorch's names for the same values: fc1.weight as is, the blocks under another prefix,
    // and a batch-norm counter tapegrad does not keep.
    const loaded = {
      fc1: { weight: zeros([5, 4]), bias: zeros([5]) },
      layers: [
        { gamma: zeros([3], "float64") },
        { gamma: tensor([1, 2, 3], { dtype: "float64" }) },
      ],
      step: 2,
      bn: { num_batches_tracked: zeros([], "int32") },
    };
    const byFunction = loadInto(params(), loaded, {
      rename: (name) =>
        name.endsWith("num_batches_tracked")
          ? null
          : name.replace(/^layers\.(\d+)\.gamma$/, "blocks.$1.scale"),
    });
    expect(Array.from(byFunction.blocks[1]!.scale.data)).toEqual([1, 2, 3]);
    expect(byFunction.step).toBe(2);
    const byRecord = loadInto(
      params(),
      { ...loaded, bn: {} },
      {
        rename: { "layers.0.gamma": "blocks.0.scale", "layers.1.gamma": "blocks.1.scale" },
      },
    );
    expect(byRecord.blocks[1]!.scale).toBe(loaded.layers[1]!.gamma);
    // Without leaving it out, the counter is reported like any unexpected name.
    expect(() =>
      loadInto(params(), loaded, {
        rename: { "layers.0.gamma": "blocks.0.scale", "layers.1.gamma": "blocks.1.scale" },
      }),
    ).toThrow(/unexpected "bn.num_batches_tracked": int32 \[\]/);
  });

  it("reports two names renamed to one path, and a rename that is neither a record nor a function", () => {
    const error = thrown(() =>
      loadInto({ a: zeros([1]) }, { x: zeros([1]), y: zeros([1]) }, { rename: () => "a" }),
    );
    expect(error.message).toBe(
      'loadInto: the loaded tree does not match the template (1 mismatch):\n  "a" given twice: by "x" and by "y"',
    );
    expect(thrown(() => loadInto({ a: zeros([1]) }, {}, { rename: 3 as never })).message).toBe(
      "loadInto: options.rename must be a record of names or a function, got number",
    );
  });

  it("says 1 mismatch for one", () => {
    const error = thrown(() => loadInto({ a: zeros([1]) }, {}));
    expect(error.message).toBe(
      'loadInto: the loaded tree does not match the template (1 mismatch):\n  missing "a": expected float32 [1]',
    );
  });
});
