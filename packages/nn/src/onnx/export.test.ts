import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import {
  TapegradError,
  add,
  defineOp,
  tensor,
  full,
  matmul,
  prng,
  relu as reluOp,
  type Tensor,
} from "@tapegrad/autodiff";
import {
  avgPool2d,
  batchNorm1d,
  batchNorm2d,
  conv2d,
  convTranspose2d,
  dropout,
  flatten,
  gelu,
  globalAvgPool2d,
  gru,
  layerNorm,
  leakyRelu,
  linear,
  logSoftmax,
  lstm,
  maxPool2d,
  parallel,
  relu,
  remat,
  residual,
  sequential,
  sigmoid,
  softmax,
  statelessLayer,
  tanh,
  type Layer,
} from "../index.js";
import { exportOnnx, exportOnnxFunction } from "./index.js";

const { onnx } = onnxProto;

/** Runs an exported model on x in ONNX Runtime; returns the output's dims and values. */
async function runOnnx(model: Uint8Array, x: Tensor) {
  const session = await ort.InferenceSession.create(model);
  const type = x.dtype === "float64" ? "float64" : "float32";
  const input = new ort.Tensor(type, x.data as Float32Array, [...x.shape]);
  const { output } = await session.run({ input });
  return { dims: output!.dims, data: output!.data as Float32Array | Float64Array };
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i]! - b[i]!));
  return most;
}

/** Params and state after one training call, so batch norm's running statistics are not 1 and 0. */
function trainedVariables(model: Layer, shape: number[]) {
  const rng = prng(4);
  const { params, state } = model.init(rng);
  const x = rng.normal(shape);
  const [, next] = model.applyWithState(params, state, x, { training: true, rng });
  return { params, state: next };
}

/** A model that uses every layer nn has, for the conv part then the dense part. */
function everyLayer(): Layer {
  const convBlock = (channels: number) =>
    sequential({
      conv: conv2d({ inChannels: channels, outChannels: channels, kernelSize: 3, padding: 1 }),
      bn: batchNorm2d({ numFeatures: channels }),
    });
  return sequential({
    conv: conv2d({
      inChannels: 2,
      outChannels: 4,
      kernelSize: 3,
      padding: "same",
      dilation: 2,
      groups: 2,
      activation: "relu",
    }),
    bn: batchNorm2d({ numFeatures: 4 }),
    act: leakyRelu(0.1),
    pool: avgPool2d({ kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }),
    block: residual(convBlock(4)),
    branches: parallel({
      a: conv2d({ inChannels: 4, outChannels: 3, kernelSize: 1, bias: false }),
      b: sequential({
        pool: maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
        shift: statelessLayer("shift", (x) => add(x, 0.5)),
        conv: conv2d({ inChannels: 4, outChannels: 3, kernelSize: 1 }),
      }),
    }),
    // 5×5 → 3×3: the last window of each axis starts in bounds and takes one cell.
    ceilPool: maxPool2d({ kernelSize: 2, ceilMode: true }),
    gap: globalAvgPool2d(),
    flatten: flatten(),
    drop: dropout(0.5),
    fc1: remat(linear({ inFeatures: 6, outFeatures: 16 })),
    bn1: batchNorm1d({ numFeatures: 16 }),
    norm: layerNorm({ normalizedShape: [16] }),
    gelu: gelu(),
    tanh: tanh(),
    fc2: linear({ inFeatures: 16, outFeatures: 8 }),
    sigmoid: sigmoid(),
    softmax: softmax(),
    logSoftmax: logSoftmax(),
  });
}

describe("exportOnnx", () => {
  it("exports every layer nn has; ONNX Runtime computes the same outputs at any batch size", async () => {
    const model = everyLayer();
    const { params, state } = trainedVariables(model, [4, 2, 10, 10]);
    const bytes = exportOnnx(model, params, state, { inputShape: [2, 2, 10, 10] });
    for (const n of [1, 3, 8]) {
      const x = prng(n).normal([n, 2, 10, 10]);
      const expected = model.apply(params, x, { state });
      const { dims, data } = await runOnnx(bytes, x);
      expect(dims).toEqual([n, 8]);
      expect(maxAbsDifference(data, expected.data)).toBeLessThan(1e-5);
    }
  });

  it("exports recurrent layers (their fused cells), unrolled over time", async () => {
    const model = sequential({
      lstm: lstm({ inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true }),
      gru: gru({ inputSize: 4, hiddenSize: 5, batchFirst: true }),
    });
    const { params, state } = model.init(prng(6));
    // The zero initial states are made with the batch size: the batch axis is fixed.
    const bytes = exportOnnx(model, params, state, { inputShape: [3, 7, 3], dynamicBatch: false });
    const x = prng(7).normal([3, 7, 3]);
    const { dims, data } = await runOnnx(bytes, x);
    expect(dims).toEqual([3, 7, 5]);
    expect(maxAbsDifference(data, model.apply(params, x, { state }).data)).toBeLessThan(1e-5);
  });

  it("exports transposed convolutions, outputPadding and groups included", async () => {
    const model = sequential({
      up: convTranspose2d({
        inChannels: 4,
        outChannels: 6,
        kernelSize: 3,
        stride: 2,
        padding: 1,
        outputPadding: 1,
        groups: 2,
      }),
      act: relu(),
      down: convTranspose2d({ inChannels: 6, outChannels: 2, kernelSize: [2, 3], dilation: 2 }),
    });
    const { params, state } = model.init(prng(5));
    const bytes = exportOnnx(model, params, state, { inputShape: [2, 4, 5, 5] });
    for (const n of [1, 2]) {
      const x = prng(n).normal([n, 4, 5, 5]);
      const expected = model.apply(params, x);
      const { dims, data } = await runOnnx(bytes, x);
      expect(dims).toEqual(expected.shape);
      expect(maxAbsDifference(data, expected.data)).toBeLessThan(1e-5);
    }
  });

  it("names initializers by their paths in params and state, and nodes by layer", () => {
    const model = sequential({
      conv: conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3 }),
      bn: batchNorm2d({ numFeatures: 2 }),
      act: relu(),
    });
    const { params, state } = model.init(prng(0));
    const decoded = onnx.ModelProto.decode(
      exportOnnx(model, params, state, { inputShape: [1, 1, 5, 5] }),
    );
    const initializers = decoded.graph!.initializer!.map((t) => t.name);
    for (const name of ["conv.weight", "conv.bias", "bn.weight", "bn.bias"]) {
      expect(initializers).toContain(name);
    }
    expect(initializers).toContain("bn.runningMean");
    expect(initializers).toContain("bn.runningVar");
    const nodes = decoded.graph!.node!.map((n) => `${n.name}:${n.opType}`);
    expect(nodes.filter((n) => n.startsWith("conv/"))).toEqual(["conv/Conv:Conv"]);
    expect(nodes.filter((n) => n.startsWith("act/"))).toEqual(["act/Relu:Relu"]);
    expect(nodes.some((n) => n.startsWith("bn/Sqrt"))).toBe(true);
    expect(Number(decoded.opsetImport![0]!.version)).toBe(17);
    expect(decoded.graph!.name).toBe("sequential");
  });

  it("gives the batch axis the symbolic size 'batch', or a fixed one with dynamicBatch: false", () => {
    const model = sequential({ flat: flatten(), fc: linear({ inFeatures: 12, outFeatures: 2 }) });
    const { params, state } = model.init(prng(0));
    const dims = (bytes: Uint8Array) => {
      const graph = onnx.ModelProto.decode(bytes).graph!;
      const show = (v: onnxProto.onnx.IValueInfoProto) =>
        v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
      return [show(graph.input![0]!), show(graph.output![0]!)];
    };
    expect(dims(exportOnnx(model, params, state, { inputShape: [4, 3, 4] }))).toEqual([
      ["batch", 3, 4],
      ["batch", 2],
    ]);
    const fixed = exportOnnx(model, params, state, { inputShape: [4, 3, 4], dynamicBatch: false });
    expect(dims(fixed)).toEqual([
      [4, 3, 4],
      [4, 2],
    ]);
  });

  it("refuses a dynamic batch the model cannot follow, and names the way out", async () => {
    // A constant made with the batch size: traced at two sizes, the two graphs differ.
    const f = (w: { w: Tensor }, x: Tensor) => add(matmul(x, w.w), full([x.shape[0]!, 2], 1));
    const params = { w: prng(0).normal([3, 2]) };
    expect(() => exportOnnxFunction(f, params, { inputShape: [4, 3] })).toThrow(
      "exportOnnx: the model computes with the batch size in a way a dynamic batch axis cannot " +
        "express (a constant or an attr that depends on it); export with dynamicBatch: false",
    );
    const fixed = exportOnnxFunction(f, params, { inputShape: [4, 3], dynamicBatch: false });
    const x = prng(1).normal([4, 3]);
    const { data } = await runOnnx(fixed, x);
    expect(maxAbsDifference(data, f(params, x).data)).toBeLessThan(1e-6);
  });

  it("names the layer and the op when an op has no ONNX form", () => {
    // Computed in JavaScript, not with ops: nothing the exporter could write instead.
    const cube = defineOp({
      name: "onnxTestCube",
      inputs: ["x"],
      forward: ([x]) =>
        tensor(
          x.data.map((v) => v ** 3),
          { shape: x.shape },
        ),
    });
    const model = sequential({
      fc: linear({ inFeatures: 2, outFeatures: 2 }),
      odd: sequential({ cube: statelessLayer("cube", (x) => cube(x)) }),
    });
    const { params, state } = model.init(prng(0));
    let error: unknown;
    try {
      exportOnnx(model, params, state, { inputShape: [1, 2] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TapegradError);
    expect((error as TapegradError).code).toBe("INVALID_ARGUMENT");
    expect((error as Error).message).toMatch(
      /^exportOnnx: layer odd\.cube \(cube\) applies op "onnxTestCube", which has no ONNX form; ops that export: abs, add, /,
    );
  });

  it("exports functional models: params' leaves become initializers named by path", async () => {
    const mlp = (p: { hidden: { w: Tensor; b: Tensor }; out: { w: Tensor } }, x: Tensor) =>
      matmul(reluOp(add(matmul(x, p.hidden.w), p.hidden.b)), p.out.w);
    const rng = prng(2);
    const params = {
      hidden: {
        w: rng.normal([3, 5], { dtype: "float64" }),
        b: rng.normal([5], { dtype: "float64" }),
      },
      out: { w: rng.normal([5, 2], { dtype: "float64" }) },
    };
    const bytes = exportOnnxFunction(mlp, params, { inputShape: [2, 3], dtype: "float64" });
    const names = onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => t.name);
    expect(names.slice(0, 3)).toEqual(["hidden.w", "hidden.b", "out.w"]);
    const x = rng.normal([6, 3], { dtype: "float64" });
    const { data } = await runOnnx(bytes, x);
    expect(data).toBeInstanceOf(Float64Array);
    expect(maxAbsDifference(data, mlp(params, x).data)).toBeLessThan(1e-12);
  });

  it("explains bad arguments", () => {
    const model = linear({ inFeatures: 2, outFeatures: 2 });
    const { params, state } = model.init(prng(0));
    expect(() => exportOnnx({} as never, params, state, { inputShape: [1, 2] })).toThrow(
      "exportOnnx: expected a layer, got an object",
    );
    expect(() => exportOnnx(model, params, state, { inputShape: [0, 2] })).toThrow(
      "exportOnnx: inputShape must be a non-empty array of positive integers, batch axis first, got [0,2]",
    );
    expect(() => exportOnnx(model, params, state, undefined as never)).toThrow("exportOnnx");
    expect(() =>
      exportOnnx(model, params, state, { inputShape: [1, 2], inputName: "x", outputName: "x" }),
    ).toThrow('exportOnnx: inputName and outputName must differ, both are "x"');
    expect(() =>
      exportOnnx(model, params, state, { inputShape: [1, 2], dtype: "int32" as never }),
    ).toThrow("exportOnnx");
  });
});
