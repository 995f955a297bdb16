import { describe, expect, it } from "vitest";
import { arange, prng, reshape, tensor, type Tensor } from "@tapegrad/autodiff";
import { randomCrop, randomHorizontalFlip, randomTranslate } from "./geometric.js";
import { normalize, toFloat } from "./pixel.js";
import { compose, onInputs } from "./transform.js";

/** A [C,H,W] image whose pixel (c, y, x) is 100c + 10y + x + 1 (never 0, the padding value). */
function coded(c: number, h: number, w: number): Tensor {
  const data = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) data[(k * h + y) * w + x] = 100 * k + 10 * y + x + 1;
  return tensor(data, { shape: [c, h, w] });
}

describe("toFloat and normalize", () => {
  it("scales int pixels to [0, 1] and leaves floats alone", () => {
    const y = toFloat(tensor([0, 51, 255], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expect(Array.from(y.data)).toEqual([0, Math.fround(0.2), 1]);
    const f = tensor([0.5]);
    expect(toFloat(f)).toBe(f);
  });

  it("standardises each channel with its own mean and std", () => {
    const x = tensor([[[1, 3]], [[10, 30]]]); // [C=2,H=1,W=2]
    expect(normalize([2, 20], [1, 10])(x).toArray()).toEqual([[[-1, 1]], [[-1, 1]]]);
    const batch = reshape(x, [1, 2, 1, 2]);
    expect(normalize(2, 1)(batch).toArray()).toEqual([[[[-1, 1]], [[8, 28]]]]);
    expect(() => normalize([1, 2, 3], 1)(x)).toThrow(/mean has 3 values but x has 2 channels/);
    expect(() => normalize(0, 0)).toThrow(/std must be positive and finite, got 0/);
  });
});

describe("randomCrop", () => {
  it("cuts a window of the zero-padded image at the drawn offset", () => {
    const x = coded(2, 3, 3);
    const rng = prng(0);
    const y = randomCrop(3, { padding: 1 })(x, rng);
    expect(y.shape).toEqual([2, 3, 3]);
    // Replay the two draws (top, then left, each uniform in 0…2) to know the expected window.
    const replay = prng(0);
    const top = Math.floor(replay.nextDouble() * 3) - 1;
    const left = Math.floor(replay.nextDouble() * 3) - 1;
    const [src, out] = [x.data, y.data];
    for (let k = 0; k < 2; k++)
      for (let r = 0; r < 3; r++)
        for (let c = 0; c < 3; c++) {
          const sy = r + top;
          const sx = c + left;
          const inside = sy >= 0 && sy < 3 && sx >= 0 && sx < 3;
          expect(out[(k * 3 + r) * 3 + c]).toBe(inside ? src[(k * 3 + sy) * 3 + sx] : 0);
        }
  });

  it("covers every offset, and crops smaller than the image", () => {
    const x = coded(1, 2, 2);
    const corners = new Set<number>();
    const rng = prng(5);
    for (let i = 0; i < 200; i++) corners.add(randomCrop(1, { padding: 1 })(x, rng).item());
    expect([...corners].sort((a, b) => a - b)).toEqual([0, 1, 2, 11, 12]);
    expect(randomCrop([1, 2])(x, prng(0)).shape).toEqual([1, 1, 2]);
    expect(() => randomCrop(5, { padding: 1 })(x, prng(0))).toThrow(
      /crop 5×5 is larger than the padded image 4×4/,
    );
  });

  it("draws a separate window for each sample of a batch", () => {
    const batch = reshape(arange(16 * 64), [64, 1, 4, 4]);
    const y = randomCrop(4, { padding: 2 })(batch, prng(1));
    expect(y.shape).toEqual([64, 1, 4, 4]);
    const zeros = new Set<number>();
    for (let s = 0; s < 64; s++)
      zeros.add(y.data.subarray(s * 16, s * 16 + 16).filter((v) => v === 0).length);
    expect(zeros.size).toBeGreaterThan(3);
  });
});

describe("randomTranslate and randomHorizontalFlip", () => {
  it("shifts content with zero fill", () => {
    const x = coded(1, 3, 3);
    const seen = new Set<string>();
    const rng = prng(2);
    for (let i = 0; i < 300; i++) {
      const y = randomTranslate(1)(x, rng);
      expect(y.shape).toEqual([1, 3, 3]);
      seen.add(Array.from(y.data).join(","));
    }
    expect(seen.size).toBe(9);
    // The shift right by one: column 0 becomes padding, column 1 holds the old column 0.
    expect(seen.has("0,1,2,0,11,12,0,21,22")).toBe(true);
  });

  it("mirrors rows with probability p", () => {
    const x = coded(2, 2, 3);
    expect(randomHorizontalFlip(1)(x, prng(0)).toArray()).toEqual([
      [
        [3, 2, 1],
        [13, 12, 11],
      ],
      [
        [103, 102, 101],
        [113, 112, 111],
      ],
    ]);
    expect(randomHorizontalFlip(0)(x, prng(0)).toArray()).toEqual(x.toArray());
    const batch = reshape(arange(2 * 1000), [1000, 1, 1, 2]);
    const flipped = randomHorizontalFlip(0.3)(batch, prng(3));
    let count = 0;
    const pairs = flipped.data;
    for (let s = 0; s < 1000; s++) if (pairs[2 * s]! > pairs[2 * s + 1]!) count++;
    expect(count).toBeGreaterThan(240);
    expect(count).toBeLessThan(360);
  });
});

describe("compose and onInputs", () => {
  it("is reproducible from the generator state", () => {
    const augment = compose(
      randomCrop(4, { padding: 1 }),
      randomHorizontalFlip(),
      normalize(0.5, 0.25),
    );
    const batch = reshape(arange(5 * 16), [5, 1, 4, 4]);
    const a = augment(batch, prng(7));
    const b = augment(batch, prng(7));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(augment(batch, prng(8)).data)).not.toEqual(Array.from(a.data));
    const labels = tensor([1, 2, 3, 4, 5], { dtype: "int32" });
    const [x, y] = onInputs(augment)([batch, labels], prng(7));
    expect(Array.from(x!.data)).toEqual(Array.from(a.data));
    expect(y).toBe(labels);
  });

  it("rejects tensors that are not images", () => {
    expect(() => randomHorizontalFlip()(tensor([1, 2]), prng(0))).toThrow(
      /randomHorizontalFlip: expected an image \[C,H,W\] or a batch \[N,C,H,W\], got shape \[2\]/,
    );
  });
});
