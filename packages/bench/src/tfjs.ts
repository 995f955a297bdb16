import { createRequire } from "node:module";
import { dirname } from "node:path";
import { TapegradError, type Tensor } from "@tapegrad/autodiff";
import type * as Tfjs from "@tensorflow/tfjs";
import {
  BASELINE_ONLY,
  HWIO_TO_OIHW,
  NCHW_TO_NHWC,
  NHWC_TO_NCHW,
  OIHW_TO_HWIO,
  Unsupported,
  concat,
  permute,
  type Peer,
  type PeerCall,
} from "./peer.js";
import {
  LENET_LAYERS,
  LENET_LR,
  convData,
  lenetData,
  matmulData,
  poolData,
  type LenetParams,
  type Workload,
} from "./workloads.js";

/**
 * TensorFlow.js peers: the full `@tensorflow/tfjs` package (which registers the gradients the
 * core alone lacks) on its pure-JS `cpu` backend, and `@tensorflow/tfjs-backend-wasm` (XNNPACK
 * kernels compiled to WebAssembly SIMD; single-threaded in Node, which gives it no Web Workers).
 * Both backends live in one tfjs engine; each peer switches to its own before its cells. tfjs's
 * conv and pool kernels work in NHWC with [kh, kw, Cin, Cout] filters, so tfjs gets the same
 * values transposed (same FLOPs) and its results are transposed back for the agreement check.
 */

export type Tf = typeof Tfjs;
type TfTensor = Tfjs.Tensor;

let loaded: Promise<Tf> | undefined;

/**
 * Imports tfjs and the wasm backend and initialises both backends. The wasm backend's `.wasm`
 * binaries are read from the package's own `dist` directory (`setWasmPaths` with a file path,
 * which its Node build reads with `fs`). The `PROD` flag silences tfjs's own logging only, in
 * particular the "install tfjs-node" banner the cpu backend prints in Node.
 */
export function loadTfjs(): Promise<Tf> {
  loaded ??= (async () => {
    const tf: Tf = await import("@tensorflow/tfjs");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    tf.env().set("PROD", true);
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`);
    for (const backend of ["wasm", "cpu"]) {
      if (!(await tf.setBackend(backend))) {
        throw new TapegradError("INVALID_STATE", `tfjs: the ${backend} backend failed to start`);
      }
    }
    await tf.ready();
    return tf;
  })();
  return loaded;
}

/** A tfjs peer on `backend` ("cpu" or "wasm"); `loadTfjs` must have resolved. */
export async function tfjsPeer(backend: "cpu" | "wasm"): Promise<Peer> {
  const tf = await loadTfjs();
  let detail = `tfjs ${tf.version.tfjs}, pure-JS cpu backend`;
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    await tf.setBackend("wasm");
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD";
    const threads = wasm.getThreadsCount();
    detail =
      `tfjs-backend-wasm ${wasm.version_wasm} (XNNPACK), ${simd}, ` +
      `${threads} thread${threads === 1 ? "" : "s"}`;
  }
  let leaked = 0;
  let leakedByFailures = 0;
  return {
    name: `tfjs ${backend}`,
    detail,
    activate: async () => {
      if (!(await tf.setBackend(backend))) {
        throw new TapegradError("INVALID_STATE", `tfjs: the ${backend} backend failed to start`);
      }
    },
    prepare: (w, n) => {
      // Tensors a cell leaves allocated after its dispose are counted and reported, apart from
      // those of cells that threw (a backward pass that stops at a missing kernel leaves its
      // tape's tensors behind inside tfjs), which are counted on their own.
      const before = tf.memory().numTensors;
      const call = prepareTfjs(tf, w, n);
      let threw = false;
      const guard =
        <T>(fn: () => T) =>
        (): T => {
          try {
            return fn();
          } catch (error) {
            threw = true;
            throw error;
          }
        };
      return {
        run: guard(call.run),
        outputs: guard(call.outputs),
        dispose: () => {
          call.dispose();
          const count = tf.memory().numTensors - before;
          if (threw) leakedByFailures += count;
          else leaked += count;
        },
      };
    },
    notes: () => [
      ...(leaked === 0 ? [] : [`${leaked} tfjs tensors leaked`]),
      ...(leakedByFailures === 0
        ? []
        : [`${leakedByFailures} tfjs tensors left behind by the cells that failed`]),
    ],
  };
}

/** A tapegrad tensor's values as a tfjs tensor, its axes permuted by `perm` first. */
function toTf(tf: Tf, t: Tensor, perm?: readonly number[]): TfTensor {
  const data = perm
    ? permute(t.data as ArrayLike<number>, t.shape, perm)
    : Float32Array.from(t.data as ArrayLike<number>);
  const shape = perm ? perm.map((p) => t.shape[p]!) : [...t.shape];
  return tf.tensor(data, shape, "float32");
}

/** A tfjs tensor's values, its axes permuted by `perm` (e.g. NHWC → NCHW). */
function fromTf(t: TfTensor, perm?: readonly number[]): Float32Array {
  const data = t.dataSync() as Float32Array;
  return perm ? permute(data, t.shape, perm) : Float32Array.from(data);
}

/**
 * Runs `fn` inside `tf.tidy` and forces every returned tensor with `dataSync()` (so the timed
 * region holds the whole computation); disposes the results unless `keep`.
 */
function runTf(tf: Tf, fn: () => TfTensor | TfTensor[], keep = false): TfTensor[] {
  const out = tf.tidy(fn);
  const tensors = Array.isArray(out) ? out : [out];
  for (const t of tensors) t.dataSync();
  if (!keep) tf.dispose(tensors);
  return tensors;
}

/** Runs `fn` keeping its results, reads them (permuted by `perms[i]`) and disposes them. */
function readTf(
  tf: Tf,
  fn: () => TfTensor | TfTensor[],
  perms: readonly (readonly number[] | undefined)[],
): Float32Array[] {
  const tensors = runTf(tf, fn, true);
  const data = tensors.map((t, i) => fromTf(t, perms[i]));
  tf.dispose(tensors);
  return data;
}

function prepareTfjs(tf: Tf, w: Workload, n: number): PeerCall {
  switch (w.kind) {
    case "conv": {
      const data = convData(w.spec, n);
      const x = toTf(tf, data.x, NCHW_TO_NHWC);
      const f = toTf(tf, data.w, OIHW_TO_HWIO);
      const b = toTf(tf, data.b);
      const dy = toTf(tf, data.dy, NCHW_TO_NHWC);
      const dispose = () => tf.dispose([x, f, b, dy]);
      const pad = w.spec.padding === 0 ? "valid" : w.spec.padding;
      const forward = (x: TfTensor, f: TfTensor, b: TfTensor): TfTensor =>
        tf.add(tf.conv2d(x as Tfjs.Tensor4D, f as Tfjs.Tensor4D, 1, pad), b);
      if (w.pass === "fwd") {
        const fn = () => forward(x, f, b);
        return {
          run: () => void runTf(tf, fn),
          outputs: () => {
            const [y] = readTf(tf, fn, [NHWC_TO_NCHW]);
            return { y: y! };
          },
          dispose,
        };
      }
      // valueAndGrads seeds the backward pass with dy and returns y too (as tapegrad's vjp).
      const both = tf.valueAndGrads(forward as (...args: TfTensor[]) => TfTensor);
      const fn = () => {
        const { value, grads } = both([x, f, b], dy);
        return [value, ...grads];
      };
      return {
        run: () => void runTf(tf, fn),
        outputs: () => {
          const [y, dx, dw, db] = readTf(tf, fn, [
            NHWC_TO_NCHW,
            NHWC_TO_NCHW,
            HWIO_TO_OIHW,
            undefined,
          ]);
          return { y: y!, dx: dx!, dw: dw!, db: db! };
        },
        dispose,
      };
    }
    case "pool": {
      const data = poolData(w, n);
      const x = toTf(tf, data.x, NCHW_TO_NHWC);
      const dy = toTf(tf, data.dy, NCHW_TO_NHWC);
      const pool = (x: TfTensor): TfTensor =>
        w.op === "max"
          ? tf.maxPool(x as Tfjs.Tensor4D, 2, 2, "valid")
          : tf.avgPool(x as Tfjs.Tensor4D, 2, 2, "valid");
      const both = tf.valueAndGrad(pool);
      const fn = () => {
        const { value, grad } = both(x, dy);
        return [value, grad];
      };
      return {
        run: () => void runTf(tf, fn),
        outputs: () => {
          const [y, dx] = readTf(tf, fn, [NHWC_TO_NCHW, NHWC_TO_NCHW]);
          return { y: y!, dx: dx! };
        },
        dispose: () => tf.dispose([x, dy]),
      };
    }
    case "matmul": {
      const data = matmulData(w.n);
      const a = toTf(tf, data.a);
      const b = toTf(tf, data.b);
      const fn = () => tf.matMul(a, b);
      return {
        run: () => void runTf(tf, fn),
        outputs: () => ({ c: readTf(tf, fn, [undefined])[0]! }),
        dispose: () => tf.dispose([a, b]),
      };
    }
    case "lenet":
      return prepareLenet(tf, n);
    case "perExample":
      throw new Unsupported(w.method === "vmap" ? "tfjs has no vmap" : BASELINE_ONLY);
    case "hessian":
      throw new Unsupported(w.method === "hessian" ? "tfjs has no hessian" : BASELINE_ONLY);
  }
}

/**
 * How each LeNet parameter moves between tapegrad's layout and tfjs's: conv weights OIHW ↔ HWIO;
 * fc1's weight [120, 400] is read as [120, 16, 5, 5] and permuted to [5, 5, 16, 120], i.e. rows
 * in the order an NHWC flatten produces; the other dense weights are transposed to [in, out].
 */
function lenetLayout(layer: (typeof LENET_LAYERS)[number], weight: Tensor) {
  if (layer === "conv1" || layer === "conv2") {
    return { shape: [...weight.shape], toTf: OIHW_TO_HWIO, fromTf: HWIO_TO_OIHW };
  }
  if (layer === "fc1") return { shape: [120, 16, 5, 5], toTf: OIHW_TO_HWIO, fromTf: HWIO_TO_OIHW };
  return { shape: [...weight.shape], toTf: [1, 0], fromTf: [1, 0] };
}

/**
 * LeNet-5 in tfjs raw ops (NHWC), the same architecture and initial values as tapegrad's:
 * conv 5×5 (padding 2) → relu → maxPool 2 → conv 5×5 → relu → maxPool 2 → flatten → dense 120 →
 * relu → dense 84 → relu → dense 10, mean softmax cross-entropy against one-hot labels, and
 * `tf.train.sgd(lr).minimize` (tf.variableGrads plus the update) over the variables.
 */
function prepareLenet(tf: Tf, n: number): PeerCall {
  const { params, x: xData, labels } = lenetData(n);
  const initial = params as LenetParams;
  // Initial values in tfjs's layouts, weight then bias per layer (the order of `vars`).
  const values = LENET_LAYERS.flatMap((layer) => {
    const { weight, bias } = initial[layer];
    const { shape, toTf: perm } = lenetLayout(layer, weight);
    const data = permute(weight.data as ArrayLike<number>, shape, perm);
    const tfShape = layer === "fc1" ? [400, 120] : perm.map((p) => shape[p]!);
    return [
      { data, shape: tfShape },
      { data: Float32Array.from(bias.data as ArrayLike<number>), shape: [...bias.shape] },
    ];
  });
  const vars = values.map((v) => {
    const value = tf.tensor(v.data, v.shape, "float32");
    const variable = tf.variable(value);
    value.dispose();
    return variable;
  });
  const reset = () =>
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i]!.data, values[i]!.shape))));
  const x = toTf(tf, xData, NCHW_TO_NHWC);
  const onehot = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Int32Array.from(labels.data as ArrayLike<number>), "int32"), 10),
  );
  const [c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b, f3w, f3b] = vars as [
    Tfjs.Variable<Tfjs.Rank.R4>,
    Tfjs.Variable,
    Tfjs.Variable<Tfjs.Rank.R4>,
    Tfjs.Variable,
    Tfjs.Variable,
    Tfjs.Variable,
    Tfjs.Variable,
    Tfjs.Variable,
    Tfjs.Variable,
    Tfjs.Variable,
  ];
  const loss = (): Tfjs.Scalar => {
    let h: TfTensor = tf.relu(tf.add(tf.conv2d(x as Tfjs.Tensor4D, c1w, 1, 2), c1b));
    h = tf.maxPool(h as Tfjs.Tensor4D, 2, 2, "valid");
    h = tf.relu(tf.add(tf.conv2d(h as Tfjs.Tensor4D, c2w, 1, "valid"), c2b));
    h = tf.reshape(tf.maxPool(h as Tfjs.Tensor4D, 2, 2, "valid"), [n, 400]);
    h = tf.relu(tf.add(tf.matMul(h, f1w), f1b));
    h = tf.relu(tf.add(tf.matMul(h, f2w), f2b));
    const logits = tf.add(tf.matMul(h, f3w), f3b);
    return tf.losses.softmaxCrossEntropy(onehot, logits) as Tfjs.Scalar;
  };
  const optimizer = tf.train.sgd(LENET_LR);
  /** One step; the cost is read back, and the cpu and wasm backends run every op eagerly. */
  const step = (): number => {
    const cost = tf.tidy(() => optimizer.minimize(loss, true, vars)!);
    const value = cost.dataSync()[0]!;
    cost.dispose();
    return value;
  };
  return {
    run: () => void step(),
    outputs: () => {
      reset();
      const before = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
      const lossValue = step();
      const updates = vars.map((v, i) => {
        const after = v.dataSync() as Float32Array;
        const delta = after.map((a, j) => a - before[i]![j]!);
        if (i % 2 === 1) return delta;
        const layer = LENET_LAYERS[i >> 1]!;
        const { shape, toTf: perm, fromTf: back } = lenetLayout(layer, initial[layer].weight);
        return permute(
          delta,
          perm.map((p) => shape[p]!),
          back,
        );
      });
      return { loss: Float32Array.of(lossValue), update: concat(updates) };
    },
    dispose: () => {
      tf.dispose([...vars, x, onehot]);
      optimizer.dispose();
    },
  };
}
