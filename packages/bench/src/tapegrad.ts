import {
  avgPool2d,
  conv2d,
  eye,
  grad,
  hessian,
  hvp,
  logSoftmax,
  matmul,
  maxPool2d,
  mean,
  mul,
  neg,
  oneHot,
  reshape,
  setBackend,
  setWasmThreads,
  slice,
  sub,
  sum,
  tanh,
  valueAndGrad,
  vjp,
  vmap,
  wasmAvailable,
  wasmVariant,
  type Tensor,
} from "@tapegrad/autodiff";
import { crossEntropy, optim } from "@tapegrad/nn";
import { Unsupported, concat, type Peer, type PeerCall } from "./peer.js";
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
 * tapegrad through its public API: the ops (`conv2d`, `maxPool2d`, `avgPool2d`, `matmul`) and
 * `vjp` for the micro-benchmarks; for the LeNet step the `lenet()` model that `pnpm train`
 * trains, `valueAndGrad` of `crossEntropy` and `optim.sgd`; for the per-example gradients
 * `grad`, `vmap(grad)` and a loop of `grad` over the same model and loss; `hessian` and `hvp`
 * for the Hessian. Every op is eager: results exist when the call returns.
 */

const f32 = (t: Tensor): Float32Array => Float32Array.from(t.data as ArrayLike<number>);

/**
 * A tapegrad peer on one backend: `js`, or `wasm` with `threads` threads (the wasm kernels'
 * thread pool, as `setWasmThreads` sets it).
 */
export function tapegradPeer(backend: "js" | "wasm", threads = 1): Peer {
  const name = backend === "js" ? "tapegrad js" : `tapegrad wasm ×${threads}`;
  const available = backend === "js" || wasmAvailable();
  return {
    name,
    detail:
      backend === "js"
        ? "TypeScript kernels on typed arrays"
        : available
          ? `WebAssembly ${wasmVariant() === "relaxed" ? "relaxed-SIMD (FMA)" : "SIMD"} kernels, ` +
            `${threads} thread${threads === 1 ? "" : "s"}`
          : "unavailable here (no WebAssembly SIMD)",
    activate: async () => {
      if (!available) return;
      setBackend(backend);
      if (backend === "wasm") setWasmThreads(threads);
    },
    prepare: (w, n) => {
      if (!available) throw new Unsupported("wasm backend unavailable (no WebAssembly SIMD)");
      return prepareTapegrad(w, n);
    },
  };
}

function prepareTapegrad(w: Workload, n: number): PeerCall {
  switch (w.kind) {
    case "conv": {
      const { x, w: weight, b, dy } = convData(w.spec, n);
      const padding = w.spec.padding;
      const forward = (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, { bias: b, padding });
      if (w.pass === "fwd") {
        return {
          run: () => void forward(x, weight, b),
          outputs: () => ({ y: f32(forward(x, weight, b)) }),
          dispose: () => {},
        };
      }
      const both = () => {
        const [y, pullback] = vjp(forward, x, weight, b);
        return [y, ...pullback(dy)] as Tensor[];
      };
      return {
        run: () => void both(),
        outputs: () => {
          const [y, dx, dw, db] = both().map(f32);
          return { y: y!, dx: dx!, dw: dw!, db: db! };
        },
        dispose: () => {},
      };
    }
    case "pool": {
      const { x, dy } = poolData(w, n);
      const pool = (x: Tensor) =>
        w.op === "max" ? maxPool2d(x, { kernelSize: 2 }) : avgPool2d(x, { kernelSize: 2 });
      const both = () => {
        const [y, pullback] = vjp(pool, x);
        return [y, pullback(dy)[0]!];
      };
      return {
        run: () => void both(),
        outputs: () => {
          const [y, dx] = both().map(f32);
          return { y: y!, dx: dx! };
        },
        dispose: () => {},
      };
    }
    case "matmul": {
      const { a, b } = matmulData(w.n);
      return {
        run: () => void matmul(a, b),
        outputs: () => ({ c: f32(matmul(a, b)) }),
        dispose: () => {},
      };
    }
    case "lenet":
      return prepareLenet(n);
    case "perExample":
      return preparePerExample(w, n);
    case "hessian":
      return prepareHessian(w);
  }
}

/** One SGD step of LeNet-5, as the trainer's step does it (without momentum, to match peers). */
function prepareLenet(n: number): PeerCall {
  const { model, params: initial, x, labels } = lenetData(n);
  const optimizer = optim.sgd({ lr: LENET_LR });
  const lossAndGrad = valueAndGrad((params: unknown) =>
    crossEntropy(model.apply(params, x), labels),
  );
  const step = (params: unknown, state: unknown): [number, unknown, unknown] => {
    const [loss, grads] = lossAndGrad(params);
    const [next, nextState] = optimizer.update(grads, state as never, params);
    return [(loss as Tensor).item(), next, nextState];
  };
  // The timed calls train on: each step starts from the previous one's params, as in training.
  let params: unknown = initial;
  let state: unknown = optimizer.init(initial);
  return {
    run: () => {
      [, params, state] = step(params, state);
    },
    outputs: () => {
      const [loss, next] = step(initial, optimizer.init(initial));
      return { loss: Float32Array.of(loss), update: lenetUpdate(initial, next as LenetParams) };
    },
    dispose: () => {},
  };
}

/** new − old of every parameter, concatenated in LENET_LAYERS order (weight, then bias). */
function lenetUpdate(before: LenetParams, after: LenetParams): Float32Array {
  return concat(
    LENET_LAYERS.flatMap((layer) =>
      (["weight", "bias"] as const).map((p) => f32(sub(after[layer][p], before[layer][p]))),
    ),
  );
}

/** Every leaf of a gradient tree, in LENET_LAYERS order (weight, then bias). */
function lenetLeaves(grads: LenetParams): Tensor[] {
  return LENET_LAYERS.flatMap((layer) => [grads[layer].weight, grads[layer].bias]);
}

/**
 * LeNet-5's gradients for n examples: of the mean loss over the batch (`batched`), or per
 * example by `vmap(grad)` or by n `grad` calls. Per-example results are laid out as vmap stacks
 * them: each parameter's n gradients, example by example, then the next parameter. A timed call
 * reads every gradient's values, as jax-js's cell does, without gathering them into one array.
 */
function preparePerExample(w: PerExampleWorkload, n: number): PeerCall {
  const { model, params, x, labels } = lenetData(n);
  // crossEntropy's loss written as −Σ onehot·logSoftmax, averaged, as jax-js's cell writes it;
  // all three cells use it.
  const targets = oneHot(labels, 10);
  const loss = (params: unknown, x: Tensor, targets: Tensor) =>
    neg(mean(sum(mul(logSoftmax(model.apply(params, x)), targets), { axis: -1 })));
  const gradient = grad(loss) as (params: unknown, x: Tensor, targets: Tensor) => LenetParams;
  // One example: x [1, 28, 28] and its one-hot row [10], reshaped to a batch of one.
  const exampleGradient = (params: unknown, x: Tensor, target: Tensor) =>
    gradient(params, reshape(x, [1, 1, 28, 28]), reshape(target, [1, 10]));
  let compute: () => Tensor[];
  switch (w.method) {
    case "batched":
      compute = () => lenetLeaves(gradient(params, x, targets));
      break;
    case "vmap": {
      const perExample = vmap(exampleGradient, { inAxes: [null, 0, 0] });
      compute = () => lenetLeaves(perExample(params, x, targets));
      break;
    }
    case "loop":
      compute = () => {
        const each: LenetParams[] = [];
        for (let i = 0; i < n; i++) {
          const xi = slice(x, [i, 0, 0, 0], [i + 1, 1, 28, 28]);
          each.push(gradient(params, xi, slice(targets, [i, 0], [i + 1, 10])));
        }
        return LENET_LAYERS.flatMap((layer) =>
          (["weight", "bias"] as const).flatMap((p) => each.map((g) => g[layer][p])),
        );
      };
      break;
  }
  return {
    run: () => compute().forEach((t) => void t.data),
    outputs: () => ({ grads: concat(compute().map(f32)) }),
    dispose: () => {},
  };
}

/** The Hessian of Σ tanh(W·x) at x, by `hessian` or row by row with one-hot hvp tangents. */
function prepareHessian(w: HessianWorkload): PeerCall {
  const { w: weight, x } = hessianData(w.n);
  const f = (x: Tensor) => sum(tanh(matmul(weight, x)));
  let compute: () => Float32Array;
  if (w.method === "hessian") {
    const h = hessian(f) as (x: Tensor) => Tensor;
    compute = () => f32(h(x));
  } else {
    const basis = eye(w.n);
    const tangents = Array.from({ length: w.n }, (_, i) =>
      reshape(slice(basis, [i, 0], [i + 1, w.n]), [w.n]),
    );
    // H is symmetric, so H·e_i is both its column and its row i.
    compute = () => concat(tangents.map((e) => f32(hvp(f, [x], [e])[0])));
  }
  return { run: () => void compute(), outputs: () => ({ h: compute() }), dispose: () => {} };
}
