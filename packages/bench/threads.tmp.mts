import { setFlagsFromString } from "node:v8";
setFlagsFromString("--experimental-wasm-relaxed-simd");
const ad = await import("@tapegrad/autodiff");
const { wasmTuning } = await import("../autodiff/src/backends/wasm/tuning.ts");
const median = (f: () => void, runs = 30) => {
  for (let i = 0; i < 10; i++) f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b); return t[runs >> 1]!;
};
wasmTuning.lagAware = false;
for (const n of [8192, 32768, 65536, 131072, 262144, 1048576]) {
  const x = ad.prng(0).normal([n], { std: 2 });
  const row: string[] = [];
  for (const kind of ["exp", "gelu", "tanh"] as const) {
    const op = (ad as any)[kind];
    ad.setWasmThreads(1); wasmTuning.minThreadWork = 1 << 30;
    const one = median(() => op(x));
    ad.setWasmThreads(2); wasmTuning.minThreadWork = 1;
    const two = median(() => op(x));
    row.push(`${kind} ${one.toFixed(3)}/${two.toFixed(3)} (${(one / two).toFixed(2)}×)`);
  }
  console.log(n, row.join("  "));
}
