import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { conv2d, convTranspose2d, grad, mul, sum, vjp, type Tensor } from "../src/index.js";
import {
  referenceConv2d,
  referenceConv2dGradients,
  referenceConvTranspose2d,
  referencePadding,
  type Planes4,
  type ReferencePadding,
} from "./reference/conv.js";
import { f64 } from "./helpers.js";

// conv2d and convTranspose2d, and their vjps, against the naive formulas of docs/cnn-backward.md
// on random configurations. The reference handles groups and dilation itself (per-group channel
// slices; zero insertion between kernel taps), so nothing is left to the op-level
// finite-difference checks alone.

function values(size: number) {
  return fc.array(
    fc.integer({ min: -20, max: 20 }).map((v) => v / 8),
    {
      minLength: size,
      maxLength: size,
    },
  );
}

function nested(t: Tensor): Planes4 {
  return t.toArray() as Planes4;
}

function expectClose(actual: Tensor, expected: unknown): void {
  const flat = (expected as unknown[]).flat(4) as number[];
  expect(actual.size).toBe(flat.length);
  actual.data.forEach((v, i) => expect(v).toBeCloseTo(flat[i]!, 9));
}

const pair = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

/** A random convolution with N ≤ 2, C ≤ 4, H, W ≤ 8 and tensors for x, w, bias and dy. */
const convCase = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    groups: fc.constantFrom(1, 2),
    inPerGroup: fc.integer({ min: 1, max: 2 }),
    outPerGroup: fc.integer({ min: 1, max: 2 }),
    kernel: pair(1, 3),
    stride: pair(1, 3),
    dilation: pair(1, 2),
    padding: fc.oneof(
      fc.integer({ min: 0, max: 2 }),
      pair(0, 2),
      fc.constant("valid" as const),
      fc.constant("same" as const),
    ) as fc.Arbitrary<ReferencePadding>,
    room: pair(0, 4),
  })
  .chain((c) => {
    const stride: [number, number] = c.padding === "same" ? [1, 1] : c.stride;
    const padding = referencePadding(c.padding, c.kernel, c.dilation);
    const size = (axis: 0 | 1) => {
      const span = c.dilation[axis] * (c.kernel[axis] - 1) + 1;
      return Math.min(8, Math.max(1, span - padding[axis][0] - padding[axis][1]) + c.room[axis]);
    };
    const [h, w] = [size(0), size(1)];
    const outH =
      Math.floor(
        (h + padding[0][0] + padding[0][1] - c.dilation[0] * (c.kernel[0] - 1) - 1) / stride[0],
      ) + 1;
    const outW =
      Math.floor(
        (w + padding[1][0] + padding[1][1] - c.dilation[1] * (c.kernel[1] - 1) - 1) / stride[1],
      ) + 1;
    const cin = c.groups * c.inPerGroup;
    const cout = c.groups * c.outPerGroup;
    const xShape = [c.batch, cin, h, w];
    const wShape = [cout, c.inPerGroup, ...c.kernel];
    const yShape = [c.batch, cout, outH, outW];
    const size4 = (s: number[]) => s.reduce((a, b) => a * b, 1);
    return fc
      .tuple(values(size4(xShape)), values(size4(wShape)), values(cout), values(size4(yShape)))
      .map(([xs, ws, bs, dys]) => ({
        x: f64(xs, xShape),
        w: f64(ws, wShape),
        bias: f64(bs, [cout]),
        dy: f64(dys, yShape),
        options: { stride, padding: c.padding, dilation: c.dilation, groups: c.groups },
        geometry: { stride, padding, dilation: c.dilation, groups: c.groups },
      }));
  });

describe("conv2d against the naive formulas of docs/cnn-backward.md", () => {
  it("forward: direct cross-correlation of the padded input, plus bias", () => {
    fc.assert(
      fc.property(convCase, ({ x, w, bias, options, geometry }) => {
        const y = conv2d(x, w, { ...options, bias });
        const expected = referenceConv2d(nested(x), nested(w), [...bias.data], geometry);
        expectClose(y, expected);
      }),
      { numRuns: 150 },
    );
  });

  it("vjp: dx by full correlation with the rotated kernel, dw by correlation with δ, db Σ δ", () => {
    fc.assert(
      fc.property(convCase, ({ x, w, bias, dy, options, geometry }) => {
        const f = (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, { ...options, bias: b });
        const [, pullback] = vjp(f, x, w, bias);
        const [dx, dw, db] = pullback(dy);
        const expected = referenceConv2dGradients(nested(x), nested(w), nested(dy), geometry);
        expectClose(dx, expected.dx);
        expectClose(dw, expected.dw);
        expectClose(db, expected.db);
      }),
      { numRuns: 150 },
    );
  });

  it("grad of ⟨conv2d(x, w), δ⟩ gives the same dx and dw", () => {
    fc.assert(
      fc.property(convCase, ({ x, w, dy, options, geometry }) => {
        const loss = (x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, options), dy));
        const [dx, dw] = grad(loss, { argnums: [0, 1] })(x, w);
        const expected = referenceConv2dGradients(nested(x), nested(w), nested(dy), geometry);
        expectClose(dx, expected.dx);
        expectClose(dw, expected.dw);
      }),
      { numRuns: 50 },
    );
  });
});

/** A random transposed convolution, outputPadding below stride or dilation. */
const transposeCase = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    groups: fc.constantFrom(1, 2),
    inPerGroup: fc.integer({ min: 1, max: 2 }),
    outPerGroup: fc.integer({ min: 1, max: 2 }),
    kernel: pair(1, 3),
    stride: pair(1, 3),
    dilation: pair(1, 2),
    padding: pair(0, 2),
    outputPadding: pair(0, 2),
    size: pair(1, 4),
  })
  .map((c) => {
    const axis = (a: 0 | 1) => {
      const outputPadding = Math.min(c.outputPadding[a], Math.max(c.stride[a], c.dilation[a]) - 1);
      const out =
        (c.size[a] - 1) * c.stride[a] + c.dilation[a] * (c.kernel[a] - 1) + outputPadding + 1;
      // Keep the output at least one cell: padding removes 2p of it.
      const padding = Math.min(c.padding[a], Math.floor((out - 1) / 2));
      return { outputPadding, padding };
    };
    const [h, w] = [axis(0), axis(1)];
    return {
      ...c,
      outputPadding: [h.outputPadding, w.outputPadding] as [number, number],
      padding: [h.padding, w.padding] as [number, number],
    };
  })
  .chain((c) => {
    const cin = c.groups * c.inPerGroup;
    const xShape = [c.batch, cin, ...c.size];
    const wShape = [cin, c.outPerGroup, ...c.kernel];
    const size4 = (s: number[]) => s.reduce((a, b) => a * b, 1);
    return fc
      .tuple(values(size4(xShape)), values(size4(wShape)), values(c.groups * c.outPerGroup))
      .map(([xs, ws, bs]) => ({
        x: f64(xs, xShape),
        w: f64(ws, wShape),
        bias: f64(bs, [c.groups * c.outPerGroup]),
        geometry: {
          stride: c.stride,
          padding: c.padding,
          outputPadding: c.outputPadding,
          dilation: c.dilation,
          groups: c.groups,
        },
      }));
  });

describe("convTranspose2d against its scatter definition", () => {
  it("forward, with every padding, outputPadding, dilation and groups", () => {
    fc.assert(
      fc.property(transposeCase, ({ x, w, bias, geometry }) => {
        const y = convTranspose2d(x, w, { ...geometry, bias });
        const expected = referenceConvTranspose2d(nested(x), nested(w), [...bias.data], geometry);
        expect(y.shape).toEqual([
          expected.length,
          expected[0]!.length,
          expected[0]![0]!.length,
          expected[0]![0]![0]!.length,
        ]);
        expectClose(y, expected);
      }),
      { numRuns: 150 },
    );
  });

  it("dx is conv2d(dy, w) and dw the filter gradient of docs/cnn-backward.md with x as δ", () => {
    fc.assert(
      fc.property(transposeCase, ({ x, w, geometry }) => {
        const f = (x: Tensor, w: Tensor) => convTranspose2d(x, w, geometry);
        const [y, pullback] = vjp(f, x, w);
        const dy = y.data.map((_, i) => Math.sin(i + 1));
        const dyTensor = f64([...dy], [...y.shape]);
        const [dx, dw] = pullback(dyTensor);
        // convTranspose2d's input is conv2d's output: padding p before and p − outputPadding
        // after maps the output size back onto x's.
        const { stride, padding, outputPadding, dilation, groups } = geometry;
        const conv = {
          stride,
          padding: [
            [padding[0], padding[0] - outputPadding[0]],
            [padding[1], padding[1] - outputPadding[1]],
          ] as [[number, number], [number, number]],
          dilation,
          groups,
        };
        expectClose(dx, referenceConv2d(nested(dyTensor), nested(w), undefined, conv));
        const expected = referenceConv2dGradients(nested(dyTensor), nested(w), nested(x), conv);
        expectClose(dw, expected.dw);
      }),
      { numRuns: 100 },
    );
  });
});
