// A deliberately naive convolution, written straight from the formulas of docs/cnn-backward.md
// on nested arrays, for tests only. It shares no code with the ops: padding, zero insertion,
// 180° rotation and "valid" cross-correlation of single planes are the only building blocks.
// Groups run the plain formulas per group of channels; dilation inserts d − 1 zeros between
// kernel taps, the same zero insertion that page uses for stride.

export type Plane = number[][];
/** [N][C][H][W], or a weight [Cout][Cin/groups][kh][kw]. */
export type Planes4 = number[][][][];

/** Padding as conv2d's options give it; 'same' is resolved here, independently of the op. */
export type ReferencePadding = number | [number, number] | "valid" | "same";

export interface ReferenceGeometry {
  readonly stride: [number, number];
  /** [[top, bottom], [left, right]]; a negative amount crops instead. */
  readonly padding: [[number, number], [number, number]];
  readonly dilation: [number, number];
  readonly groups: number;
}

export function zeros(h: number, w: number): Plane {
  return Array.from({ length: h }, () => new Array<number>(w).fill(0));
}

/** p with `top`…`right` zeros around it; a negative amount removes rows/columns instead. */
export function padPlane(p: Plane, [top, bottom]: number[], [left, right]: number[]): Plane {
  const h = p.length + top! + bottom!;
  const w = p[0]!.length + left! + right!;
  const out = zeros(h, w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) out[i]![j] = p[i - top!]?.[j - left!] ?? 0;
  }
  return out;
}

/** s − 1 zeros between neighbouring entries along each axis (restores the stride-1 layout). */
export function dilatePlane(p: Plane, [sh, sw]: number[]): Plane {
  const out = zeros((p.length - 1) * sh! + 1, (p[0]!.length - 1) * sw! + 1);
  p.forEach((row, i) => row.forEach((v, j) => (out[i * sh!]![j * sw!] = v)));
  return out;
}

export function rotate180(p: Plane): Plane {
  return p.map((row) => [...row].reverse()).reverse();
}

/** "Valid" cross-correlation: out[i][j] = Σ p[i·s + r][j·s + t]·k[r][t], no kernel flip. */
export function correlate(p: Plane, k: Plane, [sh, sw]: number[] = [1, 1]): Plane {
  const oh = Math.floor((p.length - k.length) / sh!) + 1;
  const ow = Math.floor((p[0]!.length - k[0]!.length) / sw!) + 1;
  const out = zeros(oh, ow);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      let total = 0;
      k.forEach((row, r) => row.forEach((v, t) => (total += p[i * sh! + r]![j * sw! + t]! * v)));
      out[i]![j] = total;
    }
  }
  return out;
}

function addInto(a: Plane, b: Plane): void {
  a.forEach((row, i) => row.forEach((_, j) => (row[j] += b[i]![j]!)));
}

function sumPlane(p: Plane): number {
  return p.reduce((total, row) => row.reduce((s, v) => s + v, total), 0);
}

/** 'same' pads d·(k − 1) in total per axis (half on each side), odd extra after. */
export function referencePadding(
  padding: ReferencePadding,
  kernel: [number, number],
  dilation: [number, number],
): [[number, number], [number, number]] {
  const split = (axis: 0 | 1): [number, number] => {
    if (padding === "valid") return [0, 0];
    if (padding === "same") {
      const total = dilation[axis] * (kernel[axis] - 1);
      return [Math.floor(total / 2), Math.ceil(total / 2)];
    }
    const p = typeof padding === "number" ? padding : padding[axis];
    return [p, p];
  };
  return [split(0), split(1)];
}

/** Every input channel c of group g feeds every output channel of g. */
function groupOf(o: number, outPerGroup: number): number {
  return Math.floor(o / outPerGroup);
}

/**
 * Forward pass: per output channel, the sum over its group's input channels of the padded input
 * cross-correlated with the (dilated) kernel, plus the filter's bias.
 */
export function referenceConv2d(
  x: Planes4,
  w: Planes4,
  bias: number[] | undefined,
  geometry: ReferenceGeometry,
): Planes4 {
  const { stride, padding, dilation, groups } = geometry;
  const inPerGroup = w[0]!.length;
  const outPerGroup = w.length / groups;
  return x.map((sample) =>
    w.map((filter, o) => {
      const g = groupOf(o, outPerGroup);
      let out: Plane | undefined;
      filter.forEach((kernel, c) => {
        const input = padPlane(sample[g * inPerGroup + c]!, padding[0], padding[1]);
        const part = correlate(input, dilatePlane(kernel, dilation), stride);
        if (out === undefined) out = part;
        else addInto(out, part);
      });
      return out!.map((row) => row.map((v) => v + (bias?.[o] ?? 0)));
    }),
  );
}

export interface ReferenceGradients {
  readonly dx: Planes4;
  readonly dw: Planes4;
  readonly db: number[];
}

/**
 * Backward pass for upstream gradient dy (δ), as docs/cnn-backward.md derives it:
 * - dx: put S − 1 zeros between the entries of δ, pad it with k − 1 zeros on every side, and
 *   cross-correlate with the kernel rotated 180°; sum over the output channels; input cells no
 *   window reached get 0; finally drop the padding.
 * - dw: cross-correlate the padded input with the zero-inserted δ (δ as the kernel), summed over
 *   the batch; with dilation, keep every d-th tap of the dilated kernel's gradient.
 * - db: the sum of δ over every position and the batch.
 */
export function referenceConv2dGradients(
  x: Planes4,
  w: Planes4,
  dy: Planes4,
  geometry: ReferenceGeometry,
): ReferenceGradients {
  const { stride, padding, dilation, groups } = geometry;
  const inPerGroup = w[0]!.length;
  const outPerGroup = w.length / groups;
  const [kh, kw] = [w[0]![0]!.length, w[0]![0]![0]!.length];
  const paddedH = x[0]![0]!.length + padding[0][0] + padding[0][1];
  const paddedW = x[0]![0]![0]!.length + padding[1][0] + padding[1][1];

  const dx = x.map((sample, n) =>
    sample.map((_, ci) => {
      const g = Math.floor(ci / inPerGroup);
      const c = ci - g * inPerGroup;
      const total = zeros(paddedH, paddedW);
      for (let o = g * outPerGroup; o < (g + 1) * outPerGroup; o++) {
        const delta = dilatePlane(dy[n]![o]!, stride);
        const kernel = dilatePlane(w[o]![c]!, dilation);
        const k = [kernel.length - 1, kernel[0]!.length - 1];
        const full = correlate(padPlane(delta, [k[0]!, k[0]!], [k[1]!, k[1]!]), rotate180(kernel));
        addInto(total, padPlane(full, [0, paddedH - full.length], [0, paddedW - full[0]!.length]));
      }
      const [[top, bottom], [left, right]] = padding;
      return padPlane(total, [-top, -bottom], [-left, -right]);
    }),
  );

  const dw = w.map((filter, o) =>
    filter.map((_, c) => {
      const g = groupOf(o, outPerGroup);
      const kernelH = dilation[0] * (kh - 1) + 1;
      const kernelW = dilation[1] * (kw - 1) + 1;
      const total = zeros(kernelH, kernelW);
      x.forEach((sample, n) => {
        const input = padPlane(sample[g * inPerGroup + c]!, padding[0], padding[1]);
        const full = correlate(input, dilatePlane(dy[n]![o]!, stride));
        addInto(total, padPlane(full, [0, kernelH - full.length], [0, kernelW - full[0]!.length]));
      });
      return Array.from({ length: kh }, (_, r) =>
        Array.from({ length: kw }, (_, t) => total[r * dilation[0]]![t * dilation[1]]!),
      );
    }),
  );

  const db = w.map((_, o) => dy.reduce((total, sample) => total + sumPlane(sample[o]!), 0));
  return { dx, dw, db };
}

export interface ReferenceTransposeGeometry {
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
}

/**
 * Transposed convolution by its definition (PyTorch's ConvTranspose2d): every x[n][c][i][j]
 * scatters x·w[c][o] into the output window whose top-left tap sits at (i·s − p, j·s − p), with
 * taps d apart; Hout = (H − 1)·s − 2p + d·(kh − 1) + outputPadding + 1.
 */
export function referenceConvTranspose2d(
  x: Planes4,
  w: Planes4,
  bias: number[] | undefined,
  geometry: ReferenceTransposeGeometry,
): Planes4 {
  const { stride, padding, outputPadding, dilation, groups } = geometry;
  const inPerGroup = x[0]!.length / groups;
  const outPerGroup = w[0]!.length;
  const [kh, kw] = [w[0]![0]!.length, w[0]![0]![0]!.length];
  const [h, wIn] = [x[0]![0]!.length, x[0]![0]![0]!.length];
  const outH = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + outputPadding[0] + 1;
  const outW =
    (wIn - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + outputPadding[1] + 1;
  return x.map((sample) => {
    const out = Array.from({ length: outPerGroup * groups }, (_, o) =>
      zeros(outH, outW).map((row) => row.map(() => bias?.[o] ?? 0)),
    );
    sample.forEach((plane, c) => {
      const g = Math.floor(c / inPerGroup);
      plane.forEach((row, i) =>
        row.forEach((v, j) => {
          for (let o = 0; o < outPerGroup; o++) {
            for (let r = 0; r < kh; r++) {
              for (let t = 0; t < kw; t++) {
                const y = i * stride[0] - padding[0] + r * dilation[0];
                const z = j * stride[1] - padding[1] + t * dilation[1];
                if (y >= 0 && y < outH && z >= 0 && z < outW) {
                  out[g * outPerGroup + o]![y]![z] += v * w[c]![o]![r]![t]!;
                }
              }
            }
          }
        }),
      );
    });
    return out;
  });
}
