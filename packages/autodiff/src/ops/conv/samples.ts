import type { SampleArbitrary } from "../../sampleTypes.js";
import type { SampleKit } from "../../sampling.js";
import { resolveConvPadding, type Padding } from "../window.js";
import { INPUTS, convGeometry, type Conv2dAttrs } from "./geometry.js";

/** A small convolution for the gradient checks, with its shapes. */
export interface ConvCase {
  readonly xShape: number[];
  readonly wShape: number[];
  readonly yShape: number[];
  readonly attrs: Conv2dAttrs;
}

type PaddingChoice =
  Padding | { readonly before: [number, number]; readonly extra: [number, number] };

/**
 * Convolutions with N ≤ 2, C ≤ 4, H, W ≤ 7: non-square kernels up to 3×3, strides and
 * dilations up to 2, groups 1, 2 or 4 (depthwise), 3-D inputs, and every padding form: a number,
 * a pair, 'valid', 'same', and negative bottom/right padding as convTranspose2d makes.
 */
export function convCases(kit: SampleKit): SampleArbitrary<ConvCase> {
  const { fc } = kit;
  const pair = (min: number, max: number) =>
    fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));
  const padding: SampleArbitrary<PaddingChoice> = fc.oneof(
    fc.integer({ min: 0, max: 2 }),
    pair(0, 2),
    fc.constant("valid" as const),
    fc.constant("same" as const),
    fc.record({ before: pair(0, 2), extra: pair(0, 1) }),
  );
  return fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      unbatched: fc.integer({ min: 0, max: 3 }).map((v) => v === 0),
      groups: fc.constantFrom(1, 2, 4),
      inPerGroup: fc.integer({ min: 1, max: 2 }),
      outPerGroup: fc.integer({ min: 1, max: 2 }),
      kernel: pair(1, 3),
      stride: pair(1, 2),
      dilation: pair(1, 2),
      padding,
      room: pair(0, 3),
    })
    .map((c) => {
      const inPerGroup = c.groups === 4 ? 1 : c.inPerGroup;
      const outPerGroup = c.groups === 4 ? 1 : c.outPerGroup;
      const stride: [number, number] = c.padding === "same" ? [1, 1] : c.stride;
      let pads: [[number, number], [number, number]];
      if (typeof c.padding === "object" && "extra" in c.padding) {
        // Output padding, as in convTranspose2d: it must stay below the stride or dilation.
        const { before, extra } = c.padding;
        const cut = (axis: 0 | 1) =>
          Math.min(extra[axis], Math.max(stride[axis], c.dilation[axis]) - 1);
        pads = [
          [before[0], before[0] - cut(0)],
          [before[1], before[1] - cut(1)],
        ];
      } else {
        pads = resolveConvPadding("samples", c.padding, c.kernel, c.dilation, stride);
      }
      // The smallest input that fits one window, plus a little room for more.
      const size = (axis: 0 | 1) => {
        const span = c.dilation[axis] * (c.kernel[axis] - 1) + 1;
        const fits = Math.max(1, span - pads[axis][0] - pads[axis][1]);
        return Math.min(7, fits + c.room[axis]);
      };
      const xShape = [c.groups * inPerGroup, size(0), size(1)];
      if (!c.unbatched) xShape.unshift(c.batch);
      const wShape = [c.groups * outPerGroup, inPerGroup, ...c.kernel];
      const attrs: Conv2dAttrs = { stride, padding: pads, dilation: c.dilation, groups: c.groups };
      const { yShape } = convGeometry("samples", xShape, wShape, attrs, INPUTS);
      return { xShape, wShape, yShape, attrs };
    });
}
