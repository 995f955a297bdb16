import { prng, tensor } from "../autodiff/src/index.ts";
import { randomCrop, randomHorizontalFlip, randomTranslate } from "./src/transforms/geometric.ts";
import { normalize } from "./src/transforms/pixel.ts";
const x = prng(0).uniform([64, 1, 28, 28]);
const time = (name: string, fn: (k: number) => void) => {
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let k = 0; k < 300; k++) fn(k);
    best = Math.min(best, ((performance.now() - t0) * 1000) / 300);
  }
  console.log(name.padEnd(12), best.toFixed(0), "µs");
};
const crop = randomCrop(28, { padding: 2 }),
  flip = randomHorizontalFlip(),
  norm = normalize(0.286, 0.353),
  tr = randomTranslate(2);
const r = prng(1);
time("crop", () => crop(x, r));
time("translate", () => tr(x, r));
time("flip", () => flip(x, r));
time("normalize", () => norm(x));
time("tensor copy", () => tensor(x.data, { shape: x.shape }));
time("alloc", () => new Float32Array(x.size));
time("prng", (k) => prng(k));
