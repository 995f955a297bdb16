// Times two elementwise chains jitted with fusion on and off, on one backend, over sizes from a
// loss's scalars to a ResNet activation: add+relu (keeping the sum, as a layer whose relu
// gradient reads it does) and exp(x)·y − x. `npx -y pnpm@10 --filter @tapegrad/bench run fusion`
// (TAPEGRAD_BACKEND=js for the js backend). Prints µs per call, the median of 7 batches.
import { setFlagsFromString } from "node:v8";
import { add, exp, getBackend, jit, jitTuning, mul, prng, relu, sub } from "@tapegrad/autodiff";
import type { Tensor } from "@tapegrad/autodiff";

// As pnpm train does: the relaxed-SIMD kernels where Node 20 has them behind a flag.
setFlagsFromString("--experimental-wasm-relaxed-simd");

type Chain = (x: Tensor, y: Tensor) => Tensor | Tensor[];
const chains: Record<string, Chain> = {
  "add+relu": (x: Tensor, y: Tensor) => {
    const s = add(x, y);
    return [relu(s), s];
  },
  "exp(x)·y − x": (x: Tensor, y: Tensor) => sub(mul(exp(x), y), x),
};
jitTuning.maxFusedElements = Infinity;

function microseconds(f: Chain, x: Tensor, y: Tensor): number {
  const calls = Math.max(5, Math.floor(4e6 / x.size));
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) f(x, y);
    batches.push(((performance.now() - t0) / calls) * 1000);
  }
  return batches.sort((a, b) => a - b)[3]!;
}

console.log(`backend ${getBackend()}; µs per call, fused / op by op`);
for (const size of [16, 120, 1000, 7680, 65536, 1605632]) {
  const x = prng(1).normal([size]);
  const y = prng(2).normal([size]);
  const cells = Object.entries(chains).map(([name, chain]) => {
    const timed = [true, false].map((fuse) => {
      jitTuning.fuse = fuse;
      const f = jit(chain);
      for (let i = 0; i < 10; i++) f(x, y);
      return microseconds(f, x, y);
    });
    return `${name}: ${timed[0]!.toFixed(1)} / ${timed[1]!.toFixed(1)}`;
  });
  console.log(`${size} elements  ${cells.join("   ")}`);
}
