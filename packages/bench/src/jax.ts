import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { TapegradError, type Tensor } from "@tapegrad/autodiff";
import type * as JaxModule from "@jax-js/jax";
import { BASELINE_ONLY, Unsupported, concat, type Peer, type PeerCall } from "./peer.js";
import {
  LENET_LAYERS,
  LENET_LR,
  convData,
  hessianData,
  lenetData,
  matmulData,
  poolData,
  type HessianWorkload,
  type LenetParams,
  type PerExampleWorkload,
  type Workload,
} from "./workloads.js";

/**
 * jax-js (`@jax-js/jax`) on its `wasm` device: kernels generated as WebAssembly at run time.
 * Node 20 has no global `Worker`, which its thread pool needs, so it runs on one thread. It is
 * NCHW/OIHW like tapegrad (`lax.convGeneralDilated` follows `jax.lax.conv_general_dilated`), so
 * it gets the inputs as they are. Pooling is `lax.reduceWindow` with a max or mean over each
 * 2×2 window (jax-js has no pooling op of its own); gradients come from `vjp` and
 * `valueAndGrad`; the LeNet step, the per-example gradients (`vmap(grad)`) and the Hessian
 * (`hessian`) are `jit`-compiled, as a jax user would write them.
 *
 * jax-js counts references: every function call consumes its array arguments (`.ref` keeps one
 * alive), and `dataSync()` consumes the array it reads. Its arrays are lazy, so every timed call
 * reads every result back.
 */

type Jax = typeof JaxModule;
type JArray = JaxModule.numpy.Array;

let loaded: Promise<Jax> | undefined;

/** Imports jax-js and starts its wasm device (the default device). */
export function loadJax(): Promise<Jax> {
  loaded ??= (async () => {
    const jax: Jax = await import("@jax-js/jax");
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) {
      throw new TapegradError("INVALID_STATE", "jax-js: the wasm device failed to start");
    }
    jax.defaultDevice("wasm");
    return jax;
  })();
  return loaded;
}

/** The installed version, from the package's package.json (its exports map hides the file). */
function jaxVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@jax-js/jax");
  const manifest = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8"));
  return String(manifest.version);
}

export async function jaxPeer(): Promise<Peer> {
  const jax = await loadJax();
  const threads = typeof Reflect.get(globalThis, "Worker") === "function" ? "threaded" : "1 thread";
  return {
    name: "jax-js",
    detail: `jax-js ${jaxVersion()}, wasm device, ${threads} (no Web Worker global in Node)`,
    activate: async () => {
      jax.defaultDevice("wasm");
    },
    prepare: (w, n) => prepareJax(jax, w, n),
  };
}

const toJax = (jax: Jax, t: Tensor): JArray =>
  jax.numpy.array(Float32Array.from(t.data as ArrayLike<number>)).reshape([...t.shape]);

/** Reads `a` back (consuming it) as a fresh Float32Array. */
const read = (a: JArray): Float32Array => Float32Array.from(a.dataSync() as Float32Array);

function prepareJax(jax: Jax, w: Workload, n: number): PeerCall {
  const { numpy: np, lax } = jax;
  switch (w.kind) {
    case "conv": {
      const data = convData(w.spec, n);
      const [x, f, b, dy] = [data.x, data.w, data.b, data.dy].map((t) => toJax(jax, t)) as [
        JArray,
        JArray,
        JArray,
        JArray,
      ];
      const p = w.spec.padding;
      const cout = w.spec.cout;
      const forward = (x: JArray, f: JArray, b: JArray): JArray =>
        lax
          .convGeneralDilated(
            x,
            f,
            [1, 1],
            [
              [p, p],
              [p, p],
            ],
          )
          .add(b.reshape([1, cout, 1, 1]));
      const dispose = () => [x, f, b, dy].forEach((a) => a.dispose());
      if (w.pass === "fwd") {
        return {
          run: () => void forward(x.ref, f.ref, b.ref).dataSync(),
          outputs: () => ({ y: read(forward(x.ref, f.ref, b.ref)) }),
          dispose,
        };
      }
      const both = (): JArray[] => {
        const [y, pullback] = jax.vjp(forward, [x.ref, f.ref, b.ref]);
        const grads = pullback(dy.ref) as JArray[];
        pullback.dispose();
        return [y, ...grads];
      };
      return {
        run: () => both().forEach((a) => a.dataSync()),
        outputs: () => {
          const [y, dx, dw, db] = both().map(read);
          return { y: y!, dx: dx!, dw: dw!, db: db! };
        },
        dispose,
      };
    }
    case "pool": {
      const data = poolData(w, n);
      const x = toJax(jax, data.x);
      const dy = toJax(jax, data.dy);
      const reduce = w.op === "max" ? (v: JArray) => np.max(v) : (v: JArray) => np.mean(v);
      const pool = (x: JArray): JArray => lax.reduceWindow(x, reduce, [2, 2], [2, 2]);
      const both = (): JArray[] => {
        const [y, pullback] = jax.vjp(pool, [x.ref]);
        const [dx] = pullback(dy.ref) as JArray[];
        pullback.dispose();
        return [y, dx!];
      };
      return {
        run: () => both().forEach((a) => a.dataSync()),
        outputs: () => {
          const [y, dx] = both().map(read);
          return { y: y!, dx: dx! };
        },
        dispose: () => [x, dy].forEach((a) => a.dispose()),
      };
    }
    case "matmul": {
      const data = matmulData(w.n);
      const a = toJax(jax, data.a);
      const b = toJax(jax, data.b);
      return {
        run: () => void np.matmul(a.ref, b.ref).dataSync(),
        outputs: () => ({ c: read(np.matmul(a.ref, b.ref)) }),
        dispose: () => [a, b].forEach((v) => v.dispose()),
      };
    }
    case "lenet":
      return prepareLenet(jax, n);
    case "perExample":
      return preparePerExample(jax, w, n);
    case "hessian":
      return prepareHessian(jax, w);
  }
}

type Dense = { weight: JArray; bias: JArray };
type JaxLenet = Record<(typeof LENET_LAYERS)[number], Dense>;

/** LeNet's params as jax-js arrays (fresh ones on every call: calls consume them). */
function jaxLenetParams(jax: Jax, params: LenetParams): JaxLenet {
  return Object.fromEntries(
    LENET_LAYERS.map((layer) => [
      layer,
      { weight: toJax(jax, params[layer].weight), bias: toJax(jax, params[layer].bias) },
    ]),
  ) as JaxLenet;
}

/** Int32 class labels as one-hot [n, 10] rows. */
function jaxOneHot(jax: Jax, labels: Tensor): JArray {
  const { numpy: np, nn } = jax;
  return nn.oneHot(
    np.array(Int32Array.from(labels.data as ArrayLike<number>), { dtype: np.int32 }),
    10,
  );
}

/**
 * LeNet-5 in jax-js, NCHW like tapegrad: conv 5×5 (padding 2) → relu → maxPool 2 → conv 5×5 →
 * relu → maxPool 2 → flatten → dense 120 → relu → dense 84 → relu → dense 10, then the mean
 * softmax cross-entropy against one-hot labels [N, 10].
 */
function lenetLoss(jax: Jax): (p: JaxLenet, x: JArray, y: JArray) => JArray {
  const { numpy: np, lax, nn } = jax;
  const pool = (h: JArray) => lax.reduceWindow(h, (v: JArray) => np.max(v), [2, 2], [2, 2]);
  const conv = (h: JArray, l: Dense, pad: number) =>
    lax
      .convGeneralDilated(
        h,
        l.weight,
        [1, 1],
        [
          [pad, pad],
          [pad, pad],
        ],
      )
      .add(l.bias.reshape([1, -1, 1, 1]));
  const dense = (h: JArray, l: Dense) => np.matmul(h, l.weight.transpose()).add(l.bias);
  return (p, x, y) => {
    let h = pool(nn.relu(conv(x, p.conv1, 2)));
    h = pool(nn.relu(conv(h, p.conv2, 0))).reshape([-1, 400]);
    h = nn.relu(dense(h, p.fc1));
    h = nn.relu(dense(h, p.fc2));
    const logits = dense(h, p.fc3);
    return np.mean(np.sum(nn.logSoftmax(logits, -1).mul(y), -1)).neg();
  };
}

/**
 * One LeNet-5 step from the same initial values as tapegrad: `valueAndGrad` of the loss, then
 * params − lr·grads, the whole step under `jit`.
 */
function prepareLenet(jax: Jax, n: number): PeerCall {
  const { params, x: xData, labels } = lenetData(n);
  const initial = params as LenetParams;
  const fresh = (): JaxLenet => jaxLenetParams(jax, initial);
  const x = toJax(jax, xData);
  const y = jaxOneHot(jax, labels);
  const lossAndGrad = jax.valueAndGrad(lenetLoss(jax));
  const step = jax.jit((p: JaxLenet, x: JArray, y: JArray): [JArray, JaxLenet] => {
    const [value, grads] = lossAndGrad(jax.tree.ref(p), x, y);
    const next = jax.tree.map((w: JArray, g: JArray) => w.sub(g.mul(LENET_LR)), p, grads);
    return [value, next as JaxLenet];
  });
  /** One step from `p` (consumed); reads the loss and forces every new param. */
  const run = (p: JaxLenet): [number, JaxLenet] => {
    const [value, next] = step(p, x.ref, y.ref);
    const lossValue = value.dataSync()[0]!;
    for (const leaf of jax.tree.leaves(next) as JArray[]) leaf.ref.dataSync();
    return [lossValue, next];
  };
  let current = fresh();
  return {
    run: () => {
      [, current] = run(current);
    },
    outputs: () => {
      const [lossValue, next] = run(fresh());
      const updates = LENET_LAYERS.flatMap((layer) =>
        (["weight", "bias"] as const).map((k) => {
          const after = read(next[layer][k]);
          const before = initial[layer][k].data;
          return after.map((a, i) => a - before[i]!);
        }),
      );
      return { loss: Float32Array.of(lossValue), update: concat(updates) };
    },
    dispose: () => {
      jax.tree.dispose(current);
      x.dispose();
      y.dispose();
      step.dispose();
    },
  };
}

/**
 * Per-example LeNet-5 gradients, `jit(vmap(grad(loss)))` over the examples (each reshaped to a
 * batch of one inside), laid out as tapegrad's: each parameter's n gradients, then the next.
 * The batched gradient and the loop of grad are tapegrad's baselines only.
 */
function preparePerExample(jax: Jax, w: PerExampleWorkload, n: number): PeerCall {
  if (w.method !== "vmap") throw new Unsupported(BASELINE_ONLY);
  const { params: initial, x: xData, labels } = lenetData(n);
  const params = jaxLenetParams(jax, initial as LenetParams);
  const x = toJax(jax, xData);
  const y = jaxOneHot(jax, labels);
  const loss = lenetLoss(jax);
  const exampleLoss = (p: JaxLenet, x: JArray, y: JArray) =>
    loss(p, x.reshape([1, 1, 28, 28]), y.reshape([1, 10]));
  const perExample = jax.jit(jax.vmap(jax.grad(exampleLoss), [null, 0, 0]));
  const compute = (): Float32Array[] => {
    const grads = perExample(jax.tree.ref(params), x.ref, y.ref) as JaxLenet;
    return LENET_LAYERS.flatMap((layer) =>
      (["weight", "bias"] as const).map((k) => read(grads[layer][k])),
    );
  };
  return {
    run: () => void compute(),
    outputs: () => ({ grads: concat(compute()) }),
    dispose: () => {
      jax.tree.dispose(params);
      x.dispose();
      y.dispose();
      perExample.dispose();
    },
  };
}

/** The Hessian of Σ tanh(W·x) by `jit(hessian(f))`; the hvp loop is tapegrad's baseline only. */
function prepareHessian(jax: Jax, w: HessianWorkload): PeerCall {
  if (w.method !== "hessian") throw new Unsupported(BASELINE_ONLY);
  const { numpy: np } = jax;
  const data = hessianData(w.n);
  const weight = toJax(jax, data.w);
  const x = toJax(jax, data.x);
  const h = jax.jit(jax.hessian((x: JArray) => np.sum(np.tanh(np.matmul(weight.ref, x)))));
  return {
    run: () => void h(x.ref).dataSync(),
    outputs: () => ({ h: read(h(x.ref)) }),
    dispose: () => {
      weight.dispose();
      x.dispose();
      h.dispose();
    },
  };
}
