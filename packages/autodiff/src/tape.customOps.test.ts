import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  defineOp,
  getOp,
  grad,
  listOps,
  mul,
  square,
  sum,
  tensor,
  type Tensor,
} from "./index.js";
import { caught, f64 } from "../test/helpers.js";
import { arr, num } from "../test/values.js";

describe("the tape checks what vjp rules return", () => {
  const brokenShape = defineOp({
    name: "tapeTest_brokenShape",
    inputs: ["x", "scale"],
    forward: ([x, scale]) => mul(x, scale),
    // The scale gradient should be reduced to scale's shape; this rule forgets to.
    vjp: ({ dy, inputs: [x, scale] }) => [mul(dy, scale), mul(dy, x)],
  });

  it("a wrongly shaped gradient makes backward throw, naming the op and the input", () => {
    const e = caught(() => grad((s: Tensor) => sum(brokenShape(f64([1, 2, 3]), s)))(f64(2)));
    expect(e.code).toBe("SHAPE_MISMATCH");
    expect(e.message).toMatch(
      /^tapeTest_brokenShape: vjp returned a gradient of shape \[3\] for input scale of shape \[\]/,
    );
  });

  it("the correct input of the same op is unaffected when only it needs a gradient", () => {
    expect(arr(grad((x: Tensor) => sum(brokenShape(x, f64(2))))(f64([1, 2, 3])))).toEqual([
      2, 2, 2,
    ]);
  });

  it("variadic ops are named with an index", () => {
    const brokenSum = defineOp({
      name: "tapeTest_brokenVariadic",
      inputs: ["xs"],
      variadic: true,
      forward: (xs) => xs.reduce((a: Tensor, b: Tensor) => add(a, b)),
      vjp: ({ dy, inputs }) => inputs.map((_, i) => (i === 1 ? sum(dy) : dy)),
    });
    const e = caught(() =>
      grad((b: Tensor) => sum(brokenSum.apply([f64([1, 2]), b, f64([3, 4])])))(f64([5, 6])),
    );
    expect(e.message).toMatch(
      /^tapeTest_brokenVariadic: vjp returned a gradient of shape \[\] for input xs\[1\] of shape \[2\]/,
    );
  });

  it("a vjp returning the wrong number of gradients throws INVALID_STATE naming the op", () => {
    const op = defineOp({
      name: "tapeTest_brokenCount",
      inputs: ["a", "b"],
      forward: ([a, b]) => add(a, b),
      vjp: ({ dy }) => [dy],
    });
    const e = caught(() => grad((a: Tensor) => op(a, 1))(f64(1)));
    expect(e.code).toBe("INVALID_STATE");
    expect(e.message).toMatch(/^tapeTest_brokenCount: vjp returned 1 gradients for 2 inputs/);
  });

  it("a forward returning something other than a tensor throws INVALID_STATE naming the op", () => {
    const op = defineOp({
      name: "tapeTest_badForward",
      inputs: ["x"],
      forward: () => ({}) as never,
    });
    expect(caught(() => op(f64(1))).message).toMatch(
      /^tapeTest_badForward: forward must return a Tensor or \{ y, saved \}/,
    );
  });

  it("a vjp returning a gradient of another float dtype is cast to the input's", () => {
    const op = defineOp({
      name: "tapeTest_widening",
      inputs: ["x"],
      forward: ([x]) => mul(x, 2),
      vjp: ({ dy }) => [cast(mul(dy, 2), "float64")],
    });
    const g = grad((x: Tensor) => sum(op(x)))(tensor([1, 2]));
    expect(g.dtype).toBe("float32");
    expect(arr(g)).toEqual([2, 2]);
  });

  it("saved residuals reach the vjp", () => {
    const op = defineOp({
      name: "tapeTest_saved",
      inputs: ["x"],
      forward: ([x]) => ({ y: square(x), saved: { twice: mul(x, 2) } }),
      vjp: ({ dy, saved }: { dy: Tensor; saved: { twice: Tensor } }) => [mul(dy, saved.twice)],
    });
    expect(arr(grad((x: Tensor) => sum(op(x)))(f64([1, 3])))).toEqual([2, 6]);
  });
});

describe("defineOp", () => {
  it("a duplicate name throws, naming the op", () => {
    const def = {
      name: "tapeTest_dup",
      inputs: ["x"] as const,
      forward: ([x]: readonly Tensor[]) => x!,
    };
    defineOp(def);
    expect(caught(() => defineOp(def)).message).toMatch(
      /^defineOp: an op named "tapeTest_dup" is already registered/,
    );
    expect(caught(() => defineOp({ ...def, name: "add" })).message).toMatch(
      /"add" is already registered/,
    );
  });

  it("registers the op under its name", () => {
    const op = defineOp({ name: "tapeTest_registered", inputs: ["x"], forward: ([x]) => x });
    expect(getOp("tapeTest_registered")?.definition.name).toBe("tapeTest_registered");
    expect(listOps().some((o) => o.definition.name === "tapeTest_registered")).toBe(true);
    expect(op.definition.name).toBe("tapeTest_registered");
  });

  it("ops check their arguments", () => {
    const pair = defineOp({
      name: "tapeTest_pair",
      inputs: ["a", "b"],
      forward: ([a, b]) => add(a, b),
    });
    expect(
      caught(() => (pair as unknown as (...a: unknown[]) => Tensor)(f64(1), f64(2), {}, 4)).message,
    ).toMatch(/^tapeTest_pair: expected 2 inputs and optional attrs, got 4 arguments/);
    expect(num(pair(1, f64(2)))).toBe(3);
    expect(caught(() => add([1, 2] as never, 1)).message).toMatch(
      /^add: input 0 must be a Tensor or a number, got an array \(wrap it with tensor\(\.\.\.\)\)/,
    );
    expect(caught(() => add(1, null as never)).message).toMatch(
      /^add: input 1 must be a Tensor or a number, got null/,
    );
  });

  it("a user-defined op works under grad at once", () => {
    const cube = defineOp({
      name: "tapeTest_cube",
      inputs: ["x"],
      forward: ([x]) => mul(x, mul(x, x)),
      vjp: ({ dy, inputs: [x] }) => [mul(dy, mul(3, mul(x, x)))],
    });
    expect(num(grad((x: Tensor) => cube(x))(f64(2)))).toBe(12);
    // The vjp is written with ops, so it differentiates again.
    expect(num(grad(grad((x: Tensor) => cube(x)))(f64(2)))).toBe(12);
  });
});
