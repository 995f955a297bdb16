import { adamCoefficients, jsOptimKernels, type OptimKernels } from "../../../kernels/optim.js";
import { singleThreadRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";

// Adam in wasm SIMD, bit-identical to the js loop, which spends its time on the float32
// roundings (docs/performance.md#wasm-thresholds-and-kernel-choices).

const adamF32: OptimKernels["adamF32"] = (w, g, m, v, step, next, expAvg, expAvgSq) => {
  const runtime = singleThreadRuntime(w, g, m, v, next, expAvg, expAvgSq);
  const count = w.length;
  if (runtime === null || count < wasmTuning.minElementwiseLength) {
    jsOptimKernels.adamF32(w, g, m, v, step, next, expAvg, expAvgSq);
    return;
  }
  const k = adamCoefficients(step);
  runtime.reset();
  // Each block leaves room for whole lanes of four; the kernel rewrites w, m and v in place.
  const padded = 4 * (Math.ceil(count / 4) * 4);
  const blocks = [w, g, m, v].map((data) => runtime.copyIn(data, padded));
  const constants = runtime.alloc(36);
  runtime.f32.set(
    [k.decay, k.l2, k.b1, k.b1c, k.b2, k.b2c, k.root2, k.eps, k.scale],
    constants / 4,
  );
  const [wAt, gAt, mAt, vAt] = blocks as [number, number, number, number];
  runtime.exports.adamF32(wAt, gAt, mAt, vAt, count, k.mode, constants);
  runtime.copyOut(wAt, next);
  runtime.copyOut(mAt, expAvg);
  runtime.copyOut(vAt, expAvgSq);
};

export const wasmOptimKernels: OptimKernels = { adamF32 };
