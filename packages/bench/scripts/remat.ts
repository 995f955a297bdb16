// What rematerialisation saves and costs: a residual MLP of 32 blocks (linear → relu → linear,
// width 256), batch 64, float32. One training step (valueAndGrad of the mean squared output,
// then SGD) of the same params and data, four ways: plain; every block in `remat`; `remat` around
// segments of 4 blocks; segments of 4 with the matmuls kept (policy). Reports the bytes held by
// the tapes at their peak (profileTape), the median step time, both as ratios to plain, and
// checks that the gradients are identical to plain's.
// Run: npx -y pnpm@10 --filter @tapegrad/bench run remat [steps, default 20]
import { cpus } from "node:os";
import { setFlagsFromString } from "node:v8";
import {
  getBackend,
  mean,
  prng,
  profileTape,
  square,
  treeLeaves,
  valueAndGrad,
  wasmThreads,
  type Tensor,
} from "@tapegrad/autodiff";
import { linear, optim, relu, remat, residual, sequential, type Layer } from "@tapegrad/nn";
import { median } from "../src/timing.js";

setFlagsFromString("--experimental-wasm-relaxed-simd");

const BLOCKS = 32;
const WIDTH = 256;
const BATCH = 64;
const steps = Number(process.argv[2] ?? 20);

const block = () =>
  residual(
    sequential([
      linear({ inFeatures: WIDTH, outFeatures: WIDTH }),
      relu(),
      linear({ inFeatures: WIDTH, outFeatures: WIDTH }),
    ]),
  );
const blocks = Array.from({ length: BLOCKS }, block);
const segments = (size: number, policy?: (op: string) => boolean) =>
  sequential(
    Array.from({ length: BLOCKS / size }, (_, i) =>
      remat(sequential(blocks.slice(i * size, (i + 1) * size)), { policy }),
    ),
  );
const variants: [string, Layer][] = [
  ["plain", sequential(blocks)],
  ["remat each block", sequential(blocks.map((b) => remat(b)))],
  ["remat segments of 4", segments(4)],
  ["segments of 4, matmuls kept", segments(4, (op) => op === "matmul")],
];

// Every variant has the same params tree shape as plain's (remat is transparent): nest them.
const plainParams = variants[0]![1].init(prng(0)).params;
const x = prng(1).normal([BATCH, WIDTH]);
const paramsFor = (model: Layer): unknown => {
  const nested = model.init(prng(0)).params as unknown[];
  let i = 0;
  const flat = plainParams as unknown[];
  return nested.map((segment) =>
    Array.isArray(segment) ? segment.map(() => flat[i++]) : flat[i++],
  );
};

const values = (tree: unknown) =>
  treeLeaves(tree).flatMap((t) => Array.from((t as Tensor).data as Float32Array));
const reference = values(
  valueAndGrad((p: unknown) => mean(square(variants[0]![1].apply(p, x))))(plainParams)[1],
);

console.log(
  `${BLOCKS} residual blocks, width ${WIDTH}, batch ${BATCH}, float32; backend ${getBackend()}` +
    (getBackend() === "wasm" ? ` (${wasmThreads()} threads)` : "") +
    `; ${cpus()[0]?.model ?? "unknown CPU"}; Node ${process.version}; ${steps} steps each`,
);
const rows: { name: string; peak: number; ms: number; same: boolean }[] = [];
for (const [name, model] of variants) {
  let params = name === "plain" ? plainParams : paramsFor(model);
  const loss = (p: unknown) => mean(square(model.apply(p, x)));
  const step = valueAndGrad(loss);
  const profile = profileTape(() => step(params));
  const same = values(profile.value[1]).every((v, i) => Object.is(v, reference[i]));
  const sgd = optim.sgd({ lr: 1e-3 });
  let state = sgd.init(params);
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    const [, grads] = step(params);
    [params, state] = sgd.update(grads, state, params);
    times.push(performance.now() - start);
  }
  rows.push({ name, peak: profile.peakBytes, ms: median(times), same });
}
const plain = rows[0]!;
console.log("| variant | tape peak (MB) | vs plain | step (ms) | vs plain | gradients |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${(r.peak / 1e6).toFixed(2)} | ${(plain.peak / r.peak).toFixed(1)}× less | ` +
      `${r.ms.toFixed(1)} | ${(r.ms / plain.ms).toFixed(2)}× | ${r.same ? "identical" : "DIFFER"} |`,
  );
}
