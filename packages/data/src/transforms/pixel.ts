import type { Tensor } from "@tapegrad/autodiff";
import { argumentError } from "../errors.js";
import { fromData, imageLayout } from "./image.js";

/**
 * Integer pixels (int32, 0…255) to float32 in [0, 1]: y = x / 255. Float input passes through
 * unchanged, so it is safe to apply twice. Works on tensors of any shape.
 */
export function toFloat(x: Tensor): Tensor {
  if (x.dtype !== "int32") return x;
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 255;
  return fromData(out, x.shape);
}

/**
 * Per-channel standardisation y[n,c,h,w] = (x[n,c,h,w] − mean[c]) / std[c] of [C,H,W] or
 * [N,C,H,W]; a single mean or std applies to every channel. Output is float (float32 for int32).
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[]) {
  const means = typeof mean === "number" ? [mean] : [...mean];
  const stds = typeof std === "number" ? [std] : [...std];
  for (const s of stds) {
    if (!(s > 0) || !Number.isFinite(s)) {
      throw argumentError("normalize", `std must be positive and finite, got ${s}`);
    }
  }
  return (x: Tensor): Tensor => {
    const { n, c, h, w } = imageLayout("normalize", x);
    const perChannel = (values: number[], what: string): number[] => {
      if (values.length === 1) return new Array<number>(c).fill(values[0]!);
      if (values.length === c) return values;
      throw argumentError(
        "normalize",
        `${what} has ${values.length} values but x has ${c} channels`,
      );
    };
    const m = perChannel(means, "mean");
    // Multiplying by 1/std is one rounding away from dividing; it keeps the loop divide-free.
    const scale = perChannel(stds, "std").map((s) => 1 / s);
    const src = x.data;
    const out = x.dtype === "float64" ? new Float64Array(src.length) : new Float32Array(src.length);
    const plane = h * w;
    for (let s = 0; s < n; s++) {
      for (let k = 0; k < c; k++) {
        const start = (s * c + k) * plane;
        const mk = m[k]!;
        const sk = scale[k]!;
        for (let i = start; i < start + plane; i++) out[i] = (src[i]! - mk) * sk;
      }
    }
    return fromData(out, x.shape);
  };
}
