import { argumentError, shapeError, showShape } from "../errors.js";
import type { PoolGeometry } from "../kernels/pool.js";
import type { SampleKit } from "../sampling.js";
import type { SampleArbitrary } from "../sampleTypes.js";
import type { Tensor } from "../tensor.js";
import { assertSizeWithinLimit, shapeSize } from "../shape.js";
import { booleanAttr } from "./util.js";
import { axisGeometry, resolvePair, type AxisGeometry, type Pair } from "./window.js";

/** The window attrs every 2-D pooling op takes; a number means the same for height and width. */
export interface Pool2dAttrs {
  /** Window size [kh, kw]; a number means a square window. */
  readonly kernelSize: Pair;
  /** Default: kernelSize (non-overlapping windows). */
  readonly stride?: Pair;
  /** Implicit padding on both sides of each axis, at most half the kernel (default 0). */
  readonly padding?: Pair;
  /** Round the output size up, keeping a last partial window that starts inside the input. */
  readonly ceilMode?: boolean;
}

/** A resolved pooling: the kernels' geometry and the output shape. */
export interface Pool2dLayout {
  readonly geometry: PoolGeometry;
  readonly outShape: number[];
}

/** Requires `[C, H, W]` or `[N, C, H, W]`. */
export function assertPoolInput(op: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 3 && shape.length !== 4) {
    throw shapeError(
      op,
      `${name} must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape ${showShape(shape)}`,
    );
  }
}

/**
 * Validates pooling attrs for an input of `shape` ([C, H, W] or [N, C, H, W]) and resolves the
 * geometry with window.ts. `dilation` is only read when `dilated` (avgPool2d has none).
 */
export function pool2dLayout(
  op: string,
  shape: readonly number[],
  attrs: Pool2dAttrs & { readonly dilation?: Pair },
  dilated: boolean,
): Pool2dLayout {
  assertPoolInput(op, "x", shape);
  const kernel = resolvePair(op, "kernelSize", attrs.kernelSize, 1);
  const stride = attrs.stride === undefined ? kernel : resolvePair(op, "stride", attrs.stride, 1);
  const padding = resolvePair(op, "padding", attrs.padding ?? 0, 0);
  const dilation = dilated ? resolvePair(op, "dilation", attrs.dilation ?? 1, 1) : [1, 1];
  const ceilMode = booleanAttr(op, "ceilMode", attrs.ceilMode ?? false);
  const rank = shape.length;
  const axes = (["height", "width"] as const).map((axisName, a) => {
    const k = kernel[a]!;
    const p = padding[a]!;
    // PyTorch's rule: more padding would allow windows that hold padding only.
    if (2 * p > k) {
      throw argumentError(
        op,
        `padding ${p} is more than half of kernelSize ${k} along the ${axisName} ` +
          `(at most ${Math.floor(k / 2)})`,
      );
    }
    const geometry = axisGeometry(op, axisName, {
      size: shape[rank - 2 + a]!,
      kernel: k,
      stride: stride[a]!,
      dilation: dilation[a]!,
      padBefore: p,
      padAfter: p,
      ceilMode,
    });
    assertWindowsTouchInput(op, axisName, geometry);
    return geometry;
  });
  const [h, w] = axes as [AxisGeometry, AxisGeometry];
  const planes = shapeSize(shape.slice(0, -2));
  const outShape = [...shape.slice(0, -2), h.out, w.out];
  assertSizeWithinLimit(op, outShape);
  return { geometry: { planes, h, w }, outShape };
}

/**
 * Dilated taps can step over a small input entirely (kernel 2, dilation 3, padding 1 on 2
 * cells: taps −1 and 2). Such a window has no maximum, so it is an error rather than −∞.
 */
function assertWindowsTouchInput(op: string, axisName: string, a: AxisGeometry): void {
  if (a.dilation === 1) return;
  for (let o = 0; o < a.out; o++) {
    const start = o * a.stride - a.padBefore;
    const first = start < 0 ? start + Math.ceil(-start / a.dilation) * a.dilation : start;
    if (first < a.size) continue;
    const end = start + a.dilation * (a.kernel - 1);
    const what = axisName === "height" ? "row" : "column";
    throw shapeError(
      op,
      `the window of output ${what} ${o} (input ${what}s ${start}…${end} ` +
        `with dilation ${a.dilation}) covers only padding, no cell of the input ${axisName} ${a.size}`,
    );
  }
}

/** Whether `pool2dLayout` accepts this configuration (for sample generators). */
function isValidLayout(
  shape: readonly number[],
  attrs: Pool2dAttrs & { readonly dilation?: Pair },
  dilated: boolean,
) {
  try {
    pool2dLayout("samples", shape, attrs, dilated);
    return true;
  } catch {
    return false;
  }
}

/**
 * Random small pooling configurations (rank 3 or 4, kernels 1–3, strides, padding, ceilMode,
 * dilation when `dilated`, sometimes the default stride) with a float64 input, for the
 * registry-wide gradient check. `distinct` avoids tied maxima, where max pooling has a kink.
 */
export function pool2dSamples(
  kit: SampleKit,
  options: { dilated: boolean; distinct: boolean },
): SampleArbitrary<{ x: Tensor; attrs: Pool2dAttrs & { readonly dilation?: Pair } }> {
  const { fc } = kit;
  const axis = fc
    .record({
      kernel: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 3 }),
      dilation: options.dilated ? fc.integer({ min: 1, max: 2 }) : fc.constant(1),
      padding: fc.nat({ max: 1 }),
      extra: fc.nat({ max: 3 }),
    })
    .map((a) => {
      const padding = Math.min(a.padding, Math.floor(a.kernel / 2));
      // From the smallest size one window fits in, up to 3 cells more.
      const size = Math.max(1, a.dilation * (a.kernel - 1) + 1 - 2 * padding) + a.extra;
      return { ...a, padding, size };
    });
  return fc
    .record({
      lead: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 1, maxLength: 2 }),
      h: axis,
      w: axis,
      ceilMode: fc.boolean(),
      defaultStride: fc.boolean(),
    })
    .map(({ lead, h, w, ceilMode, defaultStride }) => {
      const attrs: Pool2dAttrs & { readonly dilation?: Pair } = {
        kernelSize: [h.kernel, w.kernel],
        ...(defaultStride ? {} : { stride: [h.stride, w.stride] as const }),
        padding: [h.padding, w.padding],
        ...(options.dilated ? { dilation: [h.dilation, w.dilation] as const } : {}),
        ceilMode,
      };
      return { shape: [...lead, h.size, w.size], attrs };
    })
    .filter(({ shape, attrs }) => isValidLayout(shape, attrs, options.dilated))
    .chain(({ shape, attrs }) =>
      kit.tensor(shape, { distinct: options.distinct }).map((x) => ({ x, attrs })),
    );
}
