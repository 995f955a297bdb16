import * as fc from "fast-check";

// Deliberately naive pooling, for tests only: every window enumerated cell by cell on flat arrays,
// output sizes from PyTorch's formula. It shares no code with the ops or their kernels.

/** One pooling problem: x is [...lead, ...size], pooled over its last two axes. */
export interface PoolConfig {
  /** The axes before the plane: [N, C] or [C]. */
  readonly lead: number[];
  /** The plane's [H, W]. */
  readonly size: [number, number];
  /** The window's [kh, kw]. */
  readonly kernel: [number, number];
  /** Steps between windows along H and W. */
  readonly stride: [number, number];
  /** Implicit padding on both sides of H and of W. */
  readonly padding: [number, number];
  /** Whether a last partial window counts (rounding the output size up). */
  readonly ceilMode: boolean;
}

/** A max-pooling problem: the window's taps are `dilation` cells apart. */
export interface MaxPoolConfig extends PoolConfig {
  /** Distance between neighbouring taps along H and W. */
  readonly dilation: [number, number];
}

/** An average-pooling problem: whether padded cells count in each window's divisor. */
export interface AvgPoolConfig extends PoolConfig {
  /** Whether the divisor counts the cells of the padding. */
  readonly countIncludePad: boolean;
}

/** The output size along axis `a` (0: height, 1: width); 0 where no window fits. */
function referenceOut(c: PoolConfig & { readonly dilation?: [number, number] }, a: 0 | 1): number {
  const dilation = c.dilation?.[a] ?? 1;
  const numerator = c.size[a] + 2 * c.padding[a] - dilation * (c.kernel[a] - 1) - 1;
  if (numerator < 0) return 0;
  const round = c.ceilMode ? Math.ceil : Math.floor;
  let out = round(numerator / c.stride[a]) + 1;
  // PyTorch: the last window must start inside the input or its leading padding.
  if (c.ceilMode && (out - 1) * c.stride[a] >= c.size[a] + c.padding[a]) out--;
  return out;
}

/**
 * Max pooling tap by tap: y, the flat argmax per output, or null where PyTorch's geometry has no
 * valid window.
 */
export function referenceMaxPool(x: ArrayLike<number>, c: MaxPoolConfig) {
  const [h, w] = c.size;
  const [oh, ow] = [referenceOut(c, 0), referenceOut(c, 1)];
  if (oh < 1 || ow < 1) return null;
  const planes = c.lead.reduce((a, b) => a * b, 1);
  const y: number[] = [];
  const argmax: number[] = [];
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let at = -1;
        let first = -1;
        for (let r = 0; r < c.kernel[0]; r++) {
          for (let s = 0; s < c.kernel[1]; s++) {
            const row = i * c.stride[0] - c.padding[0] + r * c.dilation[0];
            const col = j * c.stride[1] - c.padding[1] + s * c.dilation[1];
            if (row < 0 || row >= h || col < 0 || col >= w) continue;
            const k = p * h * w + row * w + col;
            if (first < 0) first = k;
            const v = x[k]!;
            if (Number.isNaN(best)) continue;
            if (Number.isNaN(v) || v > best) {
              best = v;
              at = k;
            }
          }
        }
        if (first < 0) return null;
        y.push(at < 0 ? x[first]! : best);
        argmax.push(at < 0 ? first : at);
      }
    }
  }
  return { y, argmax, shape: [...c.lead, oh, ow] };
}

/**
 * Average pooling as PyTorch's CPU loop writes it: y and dx (for upstream gradient `dy(i)`) over
 * every window, or null where no window fits.
 */
export function referenceAvgPool(
  x: ArrayLike<number>,
  dy: (i: number) => number,
  c: AvgPoolConfig,
) {
  const [h, w] = c.size;
  const [oh, ow] = [referenceOut(c, 0), referenceOut(c, 1)];
  if (oh < 1 || ow < 1) return null;
  const planes = c.lead.reduce((a, b) => a * b, 1);
  const y: number[] = [];
  const dx = new Array<number>(planes * h * w).fill(0);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let h0 = i * c.stride[0] - c.padding[0];
        let w0 = j * c.stride[1] - c.padding[1];
        let h1 = Math.min(h0 + c.kernel[0], h + c.padding[0]);
        let w1 = Math.min(w0 + c.kernel[1], w + c.padding[1]);
        const poolSize = (h1 - h0) * (w1 - w0);
        [h0, w0, h1, w1] = [Math.max(h0, 0), Math.max(w0, 0), Math.min(h1, h), Math.min(w1, w)];
        const divisor = c.countIncludePad ? poolSize : (h1 - h0) * (w1 - w0);
        let total = 0;
        for (let r = h0; r < h1; r++) {
          for (let s = w0; s < w1; s++) total += x[p * h * w + r * w + s]!;
        }
        const o = y.length;
        y.push(total / divisor);
        for (let r = h0; r < h1; r++) {
          for (let s = w0; s < w1; s++) dx[p * h * w + r * w + s] += dy(o) / divisor;
        }
      }
    }
  }
  return { y, dx, shape: [...c.lead, oh, ow] };
}

/** The attrs both pooling ops share, from a problem; each op adds its own (dilation, divisor). */
export function poolAttrs(c: PoolConfig) {
  return { kernelSize: c.kernel, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode };
}

/** Two integers in [min, max]. */
export const pair = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

/**
 * Random pooling problems with the fields of `extra` added: small planes, kernels, strides, and
 * padding at most half the kernel (as the ops require).
 */
export function poolConfigs<E>(extra: { [K in keyof E]: fc.Arbitrary<E[K]> }) {
  const base = fc.record({
    lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    size: pair(1, 9),
    kernel: pair(1, 4),
    stride: pair(1, 3),
    padHalf: pair(0, 2),
    ceilMode: fc.boolean(),
  });
  return fc.tuple(base, fc.record(extra)).map(([{ padHalf, ...c }, more]): PoolConfig & E => ({
    ...c,
    padding: [
      Math.min(padHalf[0], Math.floor(c.kernel[0] / 2)),
      Math.min(padHalf[1], Math.floor(c.kernel[1] / 2)),
    ],
    ...more,
  }));
}
