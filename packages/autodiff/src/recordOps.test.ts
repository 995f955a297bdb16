import { describe, expect, it } from "vitest";
import { add, checkpoint, exp, grad, matmul, mul, sum, tensor, type Tensor } from "./index.js";
import { recordOps, type RecordedOp } from "./recordOps.js";

describe("recordOps", () => {
  it("lists the ops f computed in order, with attrs and the very tensors they read and wrote", () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([1, -1]);
    const { result, ops } = recordOps(() =>
      sum(add(matmul(a, a, { transB: true }), b), { axis: 1 }),
    );
    expect(ops.map((op) => op.op)).toEqual(["matmul", "add", "sum"]);
    const [product, shifted, total] = ops as [RecordedOp, RecordedOp, RecordedOp];
    expect(product.attrs).toEqual({ transB: true });
    expect(product.inputs[0]).toBe(a);
    expect(product.inputs[1]).toBe(a);
    expect(shifted.inputs[0]).toBe(product.outputs[0]);
    expect(shifted.inputs[1]).toBe(b);
    expect(total.inputs[0]).toBe(shifted.outputs[0]);
    expect(total.attrs).toEqual({ axis: 1 });
    expect(total.outputs).toEqual([result]);
    expect(ops.every((op) => op.inner.length === 0)).toBe(true);
  });

  it("gives numbers as the tensors the op computed with", () => {
    const x = tensor([1, 2], { dtype: "float64" });
    const { ops } = recordOps(() => mul(x, 3));
    const scalar = ops[0]!.inputs[1]!;
    expect(scalar.dtype).toBe("float64");
    expect(scalar.item()).toBe(3);
  });

  it("sees ops run under transforms, and a function op with the ops inside it", () => {
    const f = checkpoint((x: Tensor) => sum(exp(x)));
    const seen: string[] = [];
    const { result, ops } = recordOps(() => grad(f)(tensor([0, 1])), {
      onOp: (op) => seen.push(op.op),
    });
    expect(Array.from(result.data)).toEqual([1, Math.E].map((v) => Math.fround(v)));
    // Forward: checkpoint's function op, holding the two ops f applied; then backward's ops.
    expect(ops[0]!.op).toBe("checkpoint");
    expect(ops[0]!.inner.map((op) => op.op)).toEqual(["exp", "sum"]);
    expect(ops[0]!.outputs[0]).toBe(ops[0]!.inner[1]!.outputs[0]);
    // onOp hears each op as it finishes: the inner ones before the op that holds them.
    expect(seen.slice(0, 3)).toEqual(["exp", "sum", "checkpoint"]);
    expect(seen.length).toBe(ops.reduce((n, op) => n + 1 + op.inner.length, 0));
  });

  it("rejects what is not a function", () => {
    expect(() => recordOps(5 as never)).toThrow("recordOps: expected a function, got 5");
    expect(() => recordOps(() => 1, { onOp: 1 as never })).toThrow(
      "recordOps: options.onOp must be a function, got 1",
    );
  });
});
