import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getBackend,
  kernels,
  listOps,
  setBackend,
  setWasmThreads,
  tensor,
  vjp,
  wasmAvailable,
  wasmThreads,
  Tensor,
} from "../src/index.js";
import { jsKernels } from "../src/backends/js.js";
import { jsNormKernels } from "../src/kernels/norm.js";
import { wasmConvKernels } from "../src/backends/wasm/kernels/conv.js";
import { wasmMatmulKernels } from "../src/backends/wasm/kernels/matmul.js";
import { wasmPoolKernels } from "../src/backends/wasm/kernels/pooling.js";
import { wasmReduceKernels } from "../src/backends/wasm/kernels/reduce.js";
import { wasmNormKernels } from "../src/backends/wasm/kernels/norm.js";
import { defaultWasmTuning, wasmTuning } from "../src/backends/wasm/tuning.js";
import {
  localModule,
  relaxedLocalModule,
  relaxedModule,
  sharedModule,
} from "../src/backends/wasm/module.generated.js";
import {
  singleThreadRuntime,
  wasmRuntime,
  WasmRuntime,
} from "../src/backends/wasm/runtime/wasmRuntime.js";
import type { Conv2dParams } from "../src/kernels/conv.js";
import { makeSampleKit } from "../src/testing/sampleKit.js";
import { checkOpGradients, differentiableOps } from "../src/testing/index.js";
import { compileAll, generatedPath, renderModule } from "../scripts/build-wasm.js";

// The wasm backend computes float32 sums in float32 (the js kernels sum in float64 and round
// once), so float32 results may differ by a few ulps of the largest partial sum: they are
// compared within RTOL_F32 times the largest magnitude of the js result. float64 matmul sums in
// the same depth blocks as js but may group a skinny product's terms differently: RTOL_F64.
const RTOL_F32 = 1e-4;
const RTOL_F64 = 1e-12;
/** The wasm matmul and conv kernels, called directly. */
const wasmKernels = { ...wasmMatmulKernels, ...wasmConvKernels };
/**
 * The ops whose wasm kernels sum in another order or precision (batch norm: float64 sums in
 * SIMD lanes, per-cell arithmetic in float32); every other op's wasm kernels (elementwise,
 * pooling, sum, scatter-add) reproduce js exactly, and are held to that.
 */
const SUMS_DIFFERENTLY = new Set([
  "matmul",
  "einsum",
  "scaledDotProductAttention",
  "scaledDotProductAttentionMasked",
  "scaledDotProductAttentionBackward",
  "scaledDotProductAttentionBackwardMasked",
  "conv2d",
  "fusedConv2d",
  "fusedConv2dBackward",
  "conv2dBackpropInput",
  "conv2dBackpropFilter",
  "batchNorm",
  "batchNormBackward",
  "batchNormParamGrad",
  "channelMoments",
  "layerNorm",
  "layerNormBackward",
]);

const index = fileURLToPath(new URL("../src/index.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Runs an ES module script in a fresh Node (TypeScript through tsx) and returns its stdout. */
function runScript(
  source: string,
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = [],
): string {
  return execFileSync(
    process.execPath,
    [...nodeFlags, "--import", "tsx", "--input-type=module", "--eval", source],
    { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000, encoding: "utf8" },
  );
}

function closeTo(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = RTOL_F32,
): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  // Results that differ only below float32's smallest normal (1.2e-38), as when a sample's
  // weight is itself subnormal, are equal for float32's purposes.
  const tolerance = rtol * scale + (rtol === RTOL_F32 ? 1.2e-38 : 1e-300);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!);
    if (!(error <= tolerance) && !(Number.isNaN(actual[i]!) && Number.isNaN(expected[i]!))) {
      throw new Error(
        `${what}: element ${i} is ${actual[i]}, js gives ${expected[i]} (tolerance ${tolerance})`,
      );
    }
  }
}

function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

describe("the embedded module", () => {
  it("equals a fresh asc build of assembly/ (all four variants, and what the TS side reads)", async () => {
    const decode = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
    const builds = await compileAll();
    expect(decode(sharedModule)).toEqual(builds.shared.binary);
    expect(decode(localModule)).toEqual(builds.local.binary);
    expect(decode(relaxedModule)).toEqual(builds.relaxed.binary);
    expect(decode(relaxedLocalModule)).toEqual(builds.relaxedLocal.binary);
    // The page limit, ConvArgs' field order and KernelExports as well.
    expect(readFileSync(generatedPath, "utf8")).toBe(renderModule(builds));
  });
});

describe("the local module (hosts without shared memory)", () => {
  it("runs the kernels single-threaded on an ordinary memory", () => {
    const runtime = new WasmRuntime("local");
    expect(runtime.shared).toBe(false);
    const [m, k, n] = [7, 300, 9];
    const a = randomArray(m * k, 1);
    const b = randomArray(k * n, 2);
    const expected = new Float32Array(m * n);
    jsKernels.matmul(a, [0], b, [0], expected, m, k, n, false, false);
    runtime.reset();
    const aAt = runtime.copyIn(a);
    const bAt = runtime.copyIn(b);
    const cAt = runtime.zeros(m * n);
    const scratch = runtime.alloc(runtime.exports.gemmScratchBytes());
    const addresses = runtime.args([aAt, bAt]);
    const args = runtime.args([
      m,
      k,
      n,
      k,
      1,
      n,
      1,
      1,
      addresses,
      addresses + 4,
      cAt,
      scratch,
      0,
      0,
    ]);
    runtime.exports.matmulTask(args, 0, 1);
    const c = new Float32Array(m * n);
    runtime.copyOut(cAt, c);
    closeTo(c, expected, "local module");
  });
});

describe("the single-thread runtime", () => {
  it("is a twin of the shared runtime over an ordinary memory, with the same kernels", () => {
    const main = wasmRuntime()!;
    const single = singleThreadRuntime()!;
    expect(main.shared).toBe(true);
    expect(single === main).toBe(false);
    expect(single.shared).toBe(false);
    expect(single.variant).toBe(main.variant === "relaxed" ? "relaxedLocal" : "local");
  });
});

describe("backend selection", () => {
  it("prefers wasm where WebAssembly SIMD works, and setBackend overrides it", () => {
    expect(wasmAvailable()).toBe(true);
    expect(getBackend()).toBe("wasm");
    setBackend("js");
    expect(getBackend()).toBe("js");
    setBackend("wasm");
    expect(getBackend()).toBe("wasm");
    expect(() => setBackend("gpu")).toThrow(/unknown backend "gpu"; registered: js, wasm/);
  });

  it("follows TAPEGRAD_BACKEND and TAPEGRAD_THREADS", () => {
    const script = `const t = await import(${JSON.stringify(index)});
      console.log(t.getBackend(), t.wasmThreads());`;
    expect(runScript(script, { TAPEGRAD_BACKEND: "js", TAPEGRAD_THREADS: "1" }).trim()).toBe(
      "js 1",
    );
    expect(runScript(script, { TAPEGRAD_BACKEND: "", TAPEGRAD_THREADS: "2" }).trim()).toBe(
      "wasm 2",
    );
  });

  it("lets a script that used the worker pool exit by itself", () => {
    const script = `const t = await import(${JSON.stringify(index)});
      const x = t.ones([256, 256]);
      const y = t.matmul(x, x);
      console.log(t.wasmThreads(), y.data[0]);`;
    // execFileSync would throw on its timeout if the workers kept the process alive.
    expect(runScript(script, { TAPEGRAD_THREADS: "2" }).trim()).toBe("2 256");
  });
});

describe("the relaxed-SIMD build", () => {
  it("is chosen where the host validates it, and agrees with js on any thread count", () => {
    // Node 20 validates relaxed SIMD only behind this flag (later Nodes by default); without it
    // this suite runs the baseline build, as a plain Node 20 user gets.
    // One thread runs in the twin over ordinary memory (relaxedLocal), two in the shared
    // runtime; the threshold is lowered so that these small products do split.
    const runtimePath = fileURLToPath(
      new URL("../src/backends/wasm/runtime/wasmRuntime.ts", import.meta.url),
    );
    const tuningPath = fileURLToPath(new URL("../src/backends/wasm/tuning.ts", import.meta.url));
    const script = `const t = await import(${JSON.stringify(index)});
      const { singleThreadRuntime, wasmRuntime } = await import(${JSON.stringify(runtimePath)});
      const { wasmTuning } = await import(${JSON.stringify(tuningPath)});
      wasmTuning.minThreadWork = 1;
      wasmTuning.minClaimWork = 1;
      wasmTuning.lagAware = false;
      const rng = t.prng(3);
      const a = rng.normal([2, 67, 300]);
      const b = rng.normal([45, 300]);
      const x = rng.normal([8, 6, 12, 12]);
      const w = rng.normal([16, 6, 5, 5]);
      const run = (threads) => {
        t.setBackend("wasm");
        t.setWasmThreads(threads);
        return [t.matmul(a, b, { transB: true }), t.conv2d(x, w, { padding: 1 })];
      };
      const one = run(1);
      const two = run(2);
      t.setBackend("js");
      const reference = [t.matmul(a, b, { transB: true }), t.conv2d(x, w, { padding: 1 })];
      const error = reference.map((r, i) => {
        let scale = 0, worst = 0;
        const got = one[i].data;
        r.data.forEach((v, j) => {
          scale = Math.max(scale, Math.abs(v));
          worst = Math.max(worst, Math.abs(got[j] - v));
        });
        return worst / scale;
      });
      const same = one.every((y, i) => String(y.data) === String(two[i].data));
      const variants = wasmRuntime().variant + " " + singleThreadRuntime().variant;
      console.log(variants, Math.max(...error) < ${RTOL_F32}, same);`;
    const flags = ["--experimental-wasm-relaxed-simd"];
    expect(runScript(script, { TAPEGRAD_THREADS: "2" }, flags).trim()).toBe(
      "relaxed relaxedLocal true true",
    );
  });
});

describe("wasm kernels agree with js kernels (float32)", () => {
  beforeAll(() => {
    wasmTuning.minProductWork = 0;
    wasmTuning.minThreadWork = 1;
    wasmTuning.minClaimWork = 1;
    wasmTuning.lagAware = false;
  });
  afterAll(() => {
    Object.assign(wasmTuning, defaultWasmTuning);
    setWasmThreads(2);
  });

  const layouts = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;
  // Shapes that cross every block of the GEMM (KC = 256, MC = 120, NC = 2048) and its 6×8 tile.
  const sizes = [
    [1, 1, 1],
    [5, 3, 7],
    [13, 300, 9],
    [127, 17, 33],
    [7, 5, 2100],
    [64, 64, 64],
  ] as const;

  for (const [transA, transB] of layouts) {
    it(`matmul transA=${transA} transB=${transB}, 1 and 2 threads`, () => {
      for (const [m, k, n] of sizes) {
        const a = randomArray(2 * m * k, m);
        const b = randomArray(k * n, n);
        // Two batches: A's two matrices, one shared B (the folded case unless transA).
        const offsets: [number[], number[]] = [
          [0, m * k],
          [0, 0],
        ];
        const expected = new Float32Array(2 * m * n);
        jsKernels.matmul(a, offsets[0], b, offsets[1], expected, m, k, n, transA, transB);
        const results = [1, 2].map((threads) => {
          setWasmThreads(threads);
          const c = new Float32Array(2 * m * n);
          wasmKernels.matmul(a, offsets[0], b, offsets[1], c, m, k, n, transA, transB);
          closeTo(c, expected, `${m}×${k}×${n}, ${threads} threads`);
          return c;
        });
        // Each element is summed by one thread in one order, whatever the thread count.
        expect(results[1]).toEqual(results[0]);
      }
    });
  }

  it("matmul with separate batches, more batches than threads", () => {
    const [m, k, n, batches] = [9, 11, 13, 5];
    const a = randomArray(batches * m * k, 3);
    const b = randomArray(batches * k * n, 4);
    const aOffsets = Array.from({ length: batches }, (_, i) => i * m * k);
    const bOffsets = Array.from({ length: batches }, (_, i) => i * k * n);
    const expected = new Float32Array(batches * m * n);
    jsKernels.matmul(a, aOffsets, b, bOffsets, expected, m, k, n, false, true);
    setWasmThreads(2);
    const c = new Float32Array(batches * m * n);
    wasmKernels.matmul(a, aOffsets, b, bOffsets, c, m, k, n, false, true);
    closeTo(c, expected, "batched");
  });

  it("conv jobs (threads claim chunks, closed to late workers) between matmul jobs (fixed shares)", () => {
    // Back-to-back jobs of both kinds on two threads, each checked against one thread: a worker
    // that wakes after the main thread closed a conv job must skip it, and one that entered a
    // job it woke late for must not run that job's share twice.
    const { p, x, w } = convOperands({
      batch: 9,
      inChannels: 2,
      outChannels: 5,
      height: 7,
      kernelH: 3,
    });
    const [m, k, n] = [33, 40, 50];
    const a = randomArray(m * k, 7);
    const b = randomArray(k * n, 8);
    const run = () => {
      const y = new Float32Array(p.batch * p.outChannels * p.outH * p.outW);
      wasmKernels.conv2d(x, w, y, p);
      const c = new Float32Array(m * n);
      wasmKernels.matmul(a, [0], b, [0], c, m, k, n, false, false);
      return [y, c];
    };
    setWasmThreads(1);
    const expected = run();
    setWasmThreads(2);
    for (let i = 0; i < 200; i++) {
      const [y, c] = run();
      expect(y).toEqual(expected[0]);
      expect(c).toEqual(expected[1]);
    }
  });

  it("float64 matmul, every layout, 1 and 2 threads", () => {
    for (const [transA, transB] of layouts) {
      for (const [m, k, n] of sizes) {
        const a = Float64Array.from(randomArray(m * k, m + 1));
        const b = Float64Array.from(randomArray(k * n, n + 1));
        const expected = new Float64Array(m * n);
        jsKernels.matmul(a, [0], b, [0], expected, m, k, n, transA, transB);
        for (const threads of [1, 2]) {
          setWasmThreads(threads);
          const c = new Float64Array(m * n);
          wasmKernels.matmul(a, [0], b, [0], c, m, k, n, transA, transB);
          closeTo(c, expected, `float64 ${m}×${k}×${n} ${transA} ${transB}`, RTOL_F64);
        }
      }
    }
  });

  const convCases: (Partial<Conv2dParams> & { label: string })[] = [
    { label: "LeNet conv1", batch: 4, inChannels: 1, outChannels: 6, height: 12, kernelH: 5 },
    {
      label: "3×3 same",
      batch: 3,
      inChannels: 9,
      outChannels: 7,
      height: 9,
      kernelH: 3,
      padTop: 1,
    },
    {
      label: "stride 2",
      batch: 2,
      inChannels: 3,
      outChannels: 4,
      height: 11,
      kernelH: 3,
      strideH: 2,
    },
    {
      label: "dilation 2",
      batch: 2,
      inChannels: 2,
      outChannels: 3,
      height: 10,
      kernelH: 3,
      dilationH: 2,
    },
    {
      label: "groups 2",
      batch: 3,
      inChannels: 4,
      outChannels: 6,
      height: 7,
      kernelH: 3,
      groups: 2,
    },
    {
      label: "groups 2, 8 input channels each, pad 1",
      batch: 2,
      inChannels: 16,
      outChannels: 6,
      height: 8,
      kernelH: 3,
      padTop: 1,
      groups: 2,
    },
    { label: "pointwise", batch: 2, inChannels: 8, outChannels: 5, height: 6, kernelH: 1 },
    {
      label: "wide padding",
      batch: 1,
      inChannels: 2,
      outChannels: 3,
      height: 4,
      kernelH: 3,
      padTop: 2,
    },
    // Output positions a multiple of 8: the wide product writes y in place, packing B from x.
    {
      label: "packed from x, pad 1",
      batch: 5,
      inChannels: 3,
      outChannels: 7,
      height: 8,
      kernelH: 3,
      padTop: 1,
    },
    {
      label: "packed from x, stride 2",
      batch: 9,
      inChannels: 2,
      outChannels: 5,
      height: 15,
      kernelH: 3,
      strideH: 2,
      padTop: 1,
    },
    {
      label: "packed from x, dilation 2, groups 2",
      batch: 9,
      inChannels: 4,
      outChannels: 6,
      height: 8,
      kernelH: 3,
      dilationH: 2,
      padTop: 2,
      groups: 2,
    },
    // Padding past the kernel: the input gradient's direct conv has padding −1 (crops).
    {
      label: "padding 3, kernel 3",
      batch: 2,
      inChannels: 8,
      outChannels: 5,
      height: 8,
      kernelH: 3,
      padTop: 3,
    },
    // Direct kernels: a channel count past one 4-row tile, rows of 7 and of 11.
    { label: "odd rows", batch: 3, inChannels: 2, outChannels: 5, height: 8, kernelH: 3 },
    // 9 rows of 10: the last 2 columns of each pair of rows share a tile, and the ninth row is
    // alone; the last two channels take both rows of a pair in one tile.
    { label: "odd rows of 10", batch: 2, inChannels: 1, outChannels: 6, height: 11, kernelH: 3 },
    {
      label: "three channels, pad 2",
      batch: 2,
      inChannels: 3,
      outChannels: 3,
      height: 10,
      kernelH: 5,
      padTop: 2,
    },
    {
      label: "im2col then wide product",
      batch: 9,
      inChannels: 2,
      outChannels: 3,
      height: 16,
      kernelH: 3,
      padTop: 1,
    },
    // 300 output channels, two samples a chunk: the input gradient's product has two depth blocks,
    // the first of which overwrites the column matrix and the second adds to it.
    { label: "two depth blocks", batch: 8, inChannels: 2, outChannels: 300, height: 6, kernelH: 3 },
  ];

  // A stride-1, undilated case runs twice: through the im2col/GEMM paths and the direct kernels.
  const convRuns = convCases.flatMap((spec) =>
    (spec.strideH ?? 1) === 1 && (spec.dilationH ?? 1) === 1 && spec.kernelH! > 1
      ? [
          { spec, direct: false },
          { spec, direct: true },
        ]
      : [{ spec, direct: false }],
  );

  for (const { spec, direct } of convRuns) {
    const path = direct ? "direct" : "GEMM";
    it(`conv2d and both backprops: ${spec.label}, ${path}, 1 and 2 threads`, () => {
      const { p, x, w, dy } = convOperands(spec);
      const xSize = x.length;
      const wSize = w.length;
      const ySize = dy.length;
      const passes = [
        ["conv2d", ySize, (k: typeof jsKernels, out: Float32Array) => k.conv2d(x, w, out, p)],
        [
          "conv2dBackpropInput",
          xSize,
          (k: typeof jsKernels, out: Float32Array) => k.conv2dBackpropInput(dy, w, out, p),
        ],
        [
          "conv2dBackpropFilter",
          wSize,
          (k: typeof jsKernels, out: Float32Array) => k.conv2dBackpropFilter(x, dy, out, p),
        ],
      ] as const;
      wasmTuning.directForward = direct;
      wasmTuning.directFilterMaxChannels = direct ? Infinity : 0;
      try {
        for (const [name, length, call] of passes) {
          const expected = new Float32Array(length);
          call(jsKernels, expected);
          const results = [1, 2].map((threads) => {
            setWasmThreads(threads);
            const actual = new Float32Array(length);
            call({ ...jsKernels, ...wasmKernels }, actual);
            closeTo(actual, expected, `${name}, ${threads} threads`);
            return actual;
          });
          // Work splits by fixed chunks of samples, so the thread count never changes a result.
          expect(results[1], name).toEqual(results[0]);
        }
      } finally {
        wasmTuning.directForward = defaultWasmTuning.directForward;
        wasmTuning.directFilterMaxChannels = defaultWasmTuning.directFilterMaxChannels;
      }
    });
  }

  for (const { spec, direct } of convRuns) {
    const path = direct ? "direct" : "GEMM";
    it(`fusedConv2dBackward equals the separate kernels: ${spec.label}, ${path}, 1 and 2 threads`, () => {
      const { p, x, w, dy } = convOperands(spec);
      const y = randomArray(dy.length, 5);
      const yShape = [p.batch, p.outChannels, p.outH, p.outW];
      const table = kernels();
      wasmTuning.directForward = direct;
      wasmTuning.directFilterMaxChannels = direct ? Infinity : 0;
      try {
        for (const plan of [
          { relu: true, inputGrad: true },
          { relu: true, inputGrad: false },
          { relu: false, inputGrad: true },
        ]) {
          for (const threads of [1, 2]) {
            setWasmThreads(threads);
            // g, dx, dw and dbias as the separate ops make them on this backend.
            const g = new Float32Array(dy.length);
            if (plan.relu) table.binary("reluGrad", dy, yShape, y, yShape, g, yShape);
            else g.set(dy);
            const gradients = (fill: number) => ({
              dx: plan.inputGrad ? new Float32Array(x.length).fill(fill) : null,
              dw: new Float32Array(w.length).fill(fill),
              db: new Float32Array(p.outChannels).fill(fill),
            });
            const expected = gradients(0);
            if (expected.dx !== null) table.conv2dBackpropInput(g, w, expected.dx, p);
            table.conv2dBackpropFilter(x, g, expected.dw, p);
            table.reduce("sum", g, yShape, [0, 2, 3], expected.db);
            const actual = gradients(NaN);
            const { dx, dw, db } = actual;
            wasmKernels.fusedConv2dBackward(dy, y, x, w, dx, dw, db, p, plan.relu);
            expect(actual, `${JSON.stringify(plan)}, ${threads} threads`).toEqual(expected);
          }
        }
      } finally {
        wasmTuning.directForward = defaultWasmTuning.directForward;
        wasmTuning.directFilterMaxChannels = defaultWasmTuning.directFilterMaxChannels;
      }
    });
  }

  it("direct filter gradient: infinite input cells spoil the taps they meet, no others", () => {
    // Output rows of 7 (not a multiple of 4): the last vector's lanes past the row read real
    // input cells, which must not meet the zeros beyond dy's row (0·∞ = NaN).
    // Infinite: the last two columns of sample 0's first channel. The taps of kernel column 0
    // never reach them from inside a row, so only the mask keeps those taps finite.
    const { p, x, dy } = convOperands(convCases.find((c) => c.label === "odd rows")!);
    for (let row = 0; row < p.height; row++) {
      x[row * p.width + p.width - 2] = Infinity;
      x[row * p.width + p.width - 1] = Infinity;
    }
    const wSize = (p.outChannels * p.inChannels * p.kernelH * p.kernelW) / p.groups;
    const expected = new Float32Array(wSize);
    jsKernels.conv2dBackpropFilter(x, dy, expected, p);
    wasmTuning.directFilterMaxChannels = Infinity;
    try {
      const actual = new Float32Array(wSize);
      wasmKernels.conv2dBackpropFilter(x, dy, actual, p);
      const spoiled = (a: Float32Array) => [...a].map((v) => !Number.isFinite(v));
      expect(spoiled(actual)).toEqual(spoiled(expected));
      expect(spoiled(expected)).toContain(false);
      expect(spoiled(expected)).toContain(true);
    } finally {
      wasmTuning.directFilterMaxChannels = defaultWasmTuning.directFilterMaxChannels;
    }
  });
});

/** Params and random operands of one conv case: square kernel, width = height + 1. */
function convOperands(spec: Partial<Conv2dParams>) {
  const kernel = spec.kernelH!;
  const stride = spec.strideH ?? 1;
  const dilation = spec.dilationH ?? 1;
  const pad = spec.padTop ?? 0;
  const size = spec.height!;
  const outSize = (extent: number) =>
    Math.floor((extent + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
  const p: Conv2dParams = {
    batch: spec.batch!,
    inChannels: spec.inChannels!,
    height: size,
    width: size + 1,
    outChannels: spec.outChannels!,
    kernelH: kernel,
    kernelW: kernel,
    strideH: stride,
    strideW: stride,
    padTop: pad,
    padLeft: pad,
    dilationH: dilation,
    dilationW: dilation,
    groups: spec.groups ?? 1,
    outH: outSize(size),
    outW: outSize(size + 1),
  };
  const xSize = p.batch * p.inChannels * p.height * p.width;
  const wSize = (p.outChannels * p.inChannels * kernel * kernel) / p.groups;
  const ySize = p.batch * p.outChannels * p.outH * p.outW;
  return {
    p,
    x: randomArray(xSize, 1),
    w: randomArray(wSize, 2),
    dy: randomArray(ySize, 3),
  };
}

describe("wasm sums reproduce js exactly", () => {
  it("sums rows in the same order: four interleaved float64 partial sums, then the tail", () => {
    // Rows of [2⁶⁰, 1, −2⁶⁰, 1]…: the partial sums are 2⁶⁹, 512, −2⁶⁹, 512, and
    // (s0 + s1) + (s2 + s3) loses both 512s to rounding (0) where (s0 + s2) + (s1 + s3) keeps
    // them (1024); a tail of 3 ones follows in order.
    const n = 2051;
    const x = new Float32Array(3 * n);
    for (let row = 0; row < 3; row++) {
      for (let i = 0; i < n; i++) {
        x[row * n + i] = i >= 2048 ? 1 : i % 4 === 0 ? 2 ** 60 : i % 4 === 2 ? -(2 ** 60) : 1;
      }
    }
    const js = new Float32Array(3);
    const wasm = new Float32Array(3);
    jsKernels.reduce("sum", x, [3, n], [1], js);
    wasmReduceKernels.reduce("sum", x, [3, n], [1], wasm);
    expect(Array.from(js)).toEqual([3, 3, 3]);
    expect(Array.from(wasm)).toEqual(Array.from(js));
  });
});

describe("wasm pooling reproduces js exactly", () => {
  beforeAll(() => {
    wasmTuning.minPoolingLength = 0;
  });
  afterAll(() => {
    wasmTuning.minPoolingLength = defaultWasmTuning.minPoolingLength;
  });

  it("2×2 max and average pooling with ties, ±∞, NaN and odd sizes", () => {
    const axis = (size: number) => ({
      size,
      kernel: 2,
      stride: 2,
      dilation: 1,
      padBefore: 0,
      padAfter: 0,
      out: Math.floor(size / 2),
    });
    const g = { planes: 3, h: axis(9), w: axis(21) };
    const x = randomArray(3 * 9 * 21, 5).map((v) => Math.round(v * 4) / 4);
    x.set([NaN, 1, Infinity, -Infinity, 2, NaN, -Infinity, -Infinity], 40);
    x.set([Infinity, -Infinity, 0, -0], 100);
    x[130] = NaN;
    const size = 3 * 4 * 10;
    const results = [jsKernels, { ...jsKernels, ...wasmPoolKernels }].map((k) => {
      const y = new Float32Array(size);
      const argmax = new Int32Array(size);
      k.maxPool2d(x, g, y, argmax);
      const avg = new Float32Array(size);
      k.avgPool2d(x, g, false, avg);
      const dx = new Float32Array(x.length).fill(7);
      k.avgPool2dBackward(avg, g, false, dx);
      // −0 and NaN among the gradients: the scatter adds them to +0, so −0 comes back +0.
      const dy = Float32Array.from(avg, (v, i) => (i % 7 === 0 ? -0 : i === 50 ? NaN : v));
      const planes = { planes: 3, height: 9, width: 21, outH: 4, outW: 10 };
      const maxDx = new Float32Array(x.length).fill(7);
      const outside = k.maxPool2dBackward(dy, argmax, maxDx, planes);
      return { y, argmax, avg, dx, maxDx, outside };
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[0].outside).toBe(-1);
    expect(Object.is(results[1].maxDx[results[1].argmax[0]!], 0)).toBe(true);
  });

  it("max pooling's gradient: argmax outside its 2×2 block or outside dx goes to the js scatter", () => {
    const planes = { planes: 2, height: 4, width: 6, outH: 2, outW: 3 };
    const dy = randomArray(12, 9);
    // Window 0's argmax (cell 0) is shared with window 4's, as overlapping windows can be.
    const argmax = Int32Array.from([0, 2, 4, 13, 15, 17, 24, 26, 28, 36, 38, 40]);
    const results = [jsKernels, { ...jsKernels, ...wasmPoolKernels }].map((k) => {
      const shared = Int32Array.from(argmax);
      shared[4] = 0;
      const dxShared = new Float32Array(48).fill(7);
      const outsideShared = k.maxPool2dBackward(dy, shared, dxShared, planes);
      const bad = Int32Array.from(argmax);
      bad[5] = 48;
      const outsideBad = k.maxPool2dBackward(dy, bad, new Float32Array(48), planes);
      return { dxShared, outsideShared, outsideBad };
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[0].outsideShared).toBe(-1);
    expect(results[0].dxShared[0]).toBe(Math.fround(dy[0]! + dy[4]!));
    expect(results[0].outsideBad).toBe(5);
  });
});

describe("wasm batch norm agrees with js", () => {
  beforeAll(() => {
    wasmTuning.minNormLength = 0;
  });
  afterAll(() => {
    wasmTuning.minNormLength = defaultWasmTuning.minNormLength;
  });

  // inner 28·28 (SIMD body only), 7·7 (a tail of 1), 1 ([N, C] data: tail only); an offset mean.
  for (const [outer, channels, inner] of [
    [5, 3, 784],
    [4, 6, 49],
    [33, 7, 1],
  ] as const) {
    it(`moments, forward and both gradients on [${outer}, ${channels}, ${inner}]`, () => {
      const layout = { outer, channels, inner };
      const size = outer * channels * inner;
      const x = randomArray(size, inner).map((v) => 40 + 3 * v);
      const dy = randomArray(size, inner + 1);
      const weight = randomArray(channels, 3);
      const bias = randomArray(channels, 4);
      const results = [jsNormKernels, wasmNormKernels].map((k) => {
        const mean = new Float32Array(channels);
        const variance = new Float32Array(channels);
        k.channelMoments(x, layout, mean, variance);
        const y = new Float32Array(size);
        k.batchNorm(x, layout, 1e-5, weight, bias, y);
        const dx = new Float32Array(size);
        const dweight = new Float32Array(channels);
        const dbias = new Float32Array(channels);
        k.batchNormBackward(dy, x, layout, 1e-5, weight, dx, dweight, dbias);
        return { mean, variance, y, dx, dweight, dbias };
      });
      for (const key of ["mean", "variance", "y", "dx", "dweight", "dbias"] as const) {
        closeTo(results[1]![key], results[0]![key], key);
      }
    });
  }
});

/** float32 copies of a sample's float inputs; int32 inputs stay as they are. */
function toFloat32(inputs: readonly Tensor[]): Tensor[] {
  return inputs.map((x) =>
    x.dtype === "float64" ? tensor(x.data, { dtype: "float32", shape: x.shape }) : x,
  );
}

/** The op's outputs and its vjp for fixed cotangents, under the backend in use. */
function evaluate(
  op: ReturnType<typeof listOps>[number],
  inputs: readonly Tensor[],
  attrs: unknown,
): ArrayLike<number>[] {
  const [ys, pullback] = vjp((...xs: Tensor[]) => outputList(op.apply(xs, attrs)), ...inputs);
  const results: ArrayLike<number>[] = ys.map((y) => y.data);
  if (op.definition.vjp === undefined || ys.some((y) => y.dtype === "int32")) return results;
  const cotangents = ys.map((y, i) =>
    tensor(randomArray(y.size, y.size + 7 + i), { dtype: y.dtype, shape: y.shape }),
  );
  for (const g of pullback(cotangents)) results.push(g.data);
  return results;
}

/** A registered op's result as a list: one tensor, or each of a multi-output op's outputs. */
function outputList(outputs: Tensor | readonly Tensor[]): Tensor[] {
  return outputs instanceof Tensor ? [outputs] : [...outputs];
}

describe("every registered op gives the same results under js and wasm", () => {
  // Every float32 kernel call goes to wasm, however small, and splits over 2 threads if it can.
  beforeAll(() => {
    wasmTuning.minProductWork = 0;
    wasmTuning.minThreadWork = 1;
    wasmTuning.minClaimWork = 1;
    wasmTuning.lagAware = false;
    wasmTuning.minElementwiseLength = 0;
    wasmTuning.minPoolingLength = 0;
    wasmTuning.minReduceLength = 0;
    wasmTuning.minNormLength = 0;
    setWasmThreads(2);
  });
  afterAll(() => {
    Object.assign(wasmTuning, defaultWasmTuning);
    setBackend("wasm");
  });

  const kit = makeSampleKit(fc);
  for (const op of listOps()) {
    const { samples, name } = op.definition;
    if (samples === undefined) continue;
    it(name, () => {
      for (const sample of fc.sample(samples(kit), { numRuns: 20, seed: 42 })) {
        for (const dtype of ["float32", "float64"] as const) {
          const inputs = dtype === "float32" ? toFloat32(sample.inputs) : sample.inputs;
          setBackend("js");
          const expected = evaluate(op, inputs, sample.attrs);
          setBackend("wasm");
          const actual = evaluate(op, inputs, sample.attrs);
          expected.forEach((e, i) => {
            const what = `${name} ${dtype} ${i === 0 ? "forward" : `gradient ${i - 1}`}`;
            if (!SUMS_DIFFERENTLY.has(name)) expect(actual[i], what).toEqual(e);
            else closeTo(actual[i]!, e, what, dtype === "float64" ? RTOL_F64 : RTOL_F32);
          });
        }
      }
    });
  }
});

describe("every registered op's vjp matches finite differences under wasm (float64)", () => {
  // float64 matmul runs in wasm even for the samples' tiny products; conv stays in js.
  beforeAll(() => {
    setBackend("wasm");
    wasmTuning.minProductWork = 0;
  });
  afterAll(() => {
    wasmTuning.minProductWork = defaultWasmTuning.minProductWork;
  });
  for (const op of differentiableOps()) {
    it(op.definition.name, () => checkOpGradients(op, { numRuns: 25 }));
  }
});

it("reports the thread count it uses", () => {
  setWasmThreads(2);
  expect(wasmThreads()).toBe(2);
});
