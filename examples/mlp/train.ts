// A two-layer MLP learns to separate two interleaved spirals. Params are a plain tree of tensors,
// the model is a function (params, x) => logits, and grad(loss) returns a tree of the same shape.
import {
  add,
  cos,
  grad,
  logSoftmax,
  matmul,
  mean,
  mul,
  neg,
  prng,
  sin,
  stack,
  sub,
  tanh,
  tensor,
  treeMap,
  argmax,
  equal,
  oneHot,
  sum,
  type Rng,
  type Tensor,
} from "@tapegrad/autodiff";

type Params = { hidden: { w: Tensor; b: Tensor }; out: { w: Tensor; b: Tensor } };

function spirals(n: number, rng: Rng): { x: Tensor; y: Tensor } {
  const t = rng.uniform([n], { low: 0.25, high: 3 * Math.PI });
  const label = rng.randint(0, 2, [n]);
  const radius = mul(t, 1 / (3 * Math.PI));
  const angle = add(t, mul(label, Math.PI));
  const noise = rng.normal([n, 2], { std: 0.02 });
  return { x: add(stack([mul(radius, cos(angle)), mul(radius, sin(angle))], 1), noise), y: label };
}

function init(rng: Rng, hidden: number): Params {
  const layer = (fanIn: number, fanOut: number) => ({
    w: rng.normal([fanIn, fanOut], { std: Math.sqrt(2 / fanIn) }),
    b: tensor(new Float32Array(fanOut)),
  });
  return { hidden: layer(2, hidden), out: layer(hidden, 2) };
}

function model(p: Params, x: Tensor): Tensor {
  const h = tanh(add(matmul(x, p.hidden.w), p.hidden.b));
  return add(matmul(h, p.out.w), p.out.b);
}

/** Mean negative log-likelihood of the labels under softmax(logits). */
function crossEntropy(p: Params, x: Tensor, y: Tensor): Tensor {
  const logp = logSoftmax(model(p, x), -1);
  return neg(mean(sum(mul(logp, oneHot(y, 2)), { axis: 1 })));
}

const rng = prng(0);
const train = spirals(1000, rng);
const test = spirals(1000, rng);
let params = init(rng, 64);
const lossGrad = grad(crossEntropy);

const accuracy = (p: Params, data: { x: Tensor; y: Tensor }) =>
  sum(equal(argmax(model(p, data.x), { axis: 1 }), data.y)).item() / data.y.size;

// SGD with momentum: velocity ← 0.9·velocity + grad; params ← params − lr·velocity.
let velocity = treeMap((w: Tensor) => mul(w, 0), params);
const start = performance.now();
for (let step = 1; step <= 1500; step++) {
  const g = lossGrad(params, train.x, train.y);
  velocity = treeMap((v: Tensor, d: Tensor) => add(mul(v, 0.9), d), velocity, g);
  params = treeMap((w: Tensor, v: Tensor) => sub(w, mul(0.2, v)), params, velocity);
  if (step % 250 === 0) {
    const loss = crossEntropy(params, train.x, train.y).item();
    console.log(
      `step ${step}: train loss ${loss.toFixed(4)}, test accuracy ${(100 * accuracy(params, test)).toFixed(1)}%`,
    );
  }
}
console.log(
  `done in ${((performance.now() - start) / 1000).toFixed(1)} s: test accuracy ${(100 * accuracy(params, test)).toFixed(1)}%`,
);
