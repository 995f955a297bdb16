// The two-neuron network worked by hand in docs/cnn-backward.md ("Warm-up: two neurons by hand"):
//
//   a = sigmoid(x·w11 + b1),  y = relu(a·w21 + b2),  J = ½(y − label)²
//
// with x = 1, w11 = b1 = 0.5, w21 = b2 = 1 and label = 2. grad(J) over the params object gives
// the four partial derivatives at once, shaped like the params; one SGD step moves y toward 2.
//
//   tsx twoNeuron.ts
import { pathToFileURL } from "node:url";
import {
  add,
  grad,
  mul,
  relu,
  sigmoid,
  square,
  sub,
  tensor,
  treeMap,
  type Tensor,
} from "@tapegrad/autodiff";

/** The network's four weights, named as in docs/cnn-backward.md. */
export interface Weights<T> {
  readonly w11: T;
  readonly b1: T;
  readonly w21: T;
  readonly b2: T;
}

/** What grad differentiates: each weight a float64 scalar (0-d tensor). */
export type Params = Weights<Tensor>;
/** The same weights as plain numbers, for printing and comparing. */
export type ParamValues = Weights<number>;

function mapWeights<A, B>(p: Weights<A>, f: (v: A) => B): Weights<B> {
  return { w11: f(p.w11), b1: f(p.b1), w21: f(p.w21), b2: f(p.b2) };
}

// float64 so that the results match the hand-computed values to 1e-6 and beyond.
const scalar = (v: number) => tensor(v, { dtype: "float64" });

/** The worked example's starting point. */
export const INITIAL: ParamValues = { w11: 0.5, b1: 0.5, w21: 1, b2: 1 };
export const X = 1;
export const LABEL = 2;

/** Hidden activation a and output y for input x. */
export function forward(p: Params, x: Tensor): { a: Tensor; y: Tensor } {
  const a = sigmoid(add(mul(x, p.w11), p.b1));
  const y = relu(add(mul(a, p.w21), p.b2));
  return { a, y };
}

/** J = ½(y − label)², the loss for one example. */
export function loss(p: Params, x: Tensor, label: Tensor): Tensor {
  return mul(0.5, square(sub(forward(p, x).y, label)));
}

/** One step of gradient descent on every leaf: w ← w − α·∂J/∂w. */
export function sgdStep(p: Params, grads: Params, lr: number): Params {
  return treeMap((w: Tensor, dw: Tensor) => sub(w, mul(lr, dw)), p, grads);
}

export interface TwoNeuronResult {
  readonly a: number;
  readonly y: number;
  readonly loss: number;
  /** ∂J/∂w for each weight, in the params' shape. */
  readonly grads: ParamValues;
  /** The weights after one SGD step, and the network's output and loss with them. */
  readonly updated: ParamValues;
  readonly newY: number;
  readonly newLoss: number;
}

/** The whole worked example: forward, backward, one update, forward again. */
export function runTwoNeuron(lr = 0.1, start: ParamValues = INITIAL): TwoNeuronResult {
  const params = mapWeights(start, scalar);
  const x = scalar(X);
  const label = scalar(LABEL);
  const { a, y } = forward(params, x);
  const grads = grad(loss)(params, x, label);
  const updated = sgdStep(params, grads, lr);
  return {
    a: a.item(),
    y: y.item(),
    loss: loss(params, x, label).item(),
    grads: mapWeights(grads, (t) => t.item()),
    updated: mapWeights(updated, (t) => t.item()),
    newY: forward(updated, x).y.item(),
    newLoss: loss(updated, x, label).item(),
  };
}

function report(r: TwoNeuronResult, lr: number): string {
  const f = (v: number) => (v < 0 ? "" : " ") + v.toFixed(6);
  const { grads: g, updated: u } = r;
  return [
    `forward   (x = ${X}, label = ${LABEL}, w11 = ${INITIAL.w11}, b1 = ${INITIAL.b1}, ` +
      `w21 = ${INITIAL.w21}, b2 = ${INITIAL.b2})`,
    `  a = sigmoid(x·w11 + b1) = ${f(r.a)}`,
    `  y = relu(a·w21 + b2)    = ${f(r.y)}`,
    `  J = ½(y − label)²       = ${f(r.loss)}`,
    `backward  (grad of J over the params object)`,
    `  ∂J/∂w21 = (y − label)·a                 = ${f(g.w21)}`,
    `  ∂J/∂b2  = y − label                     = ${f(g.b2)}`,
    `  ∂J/∂w11 = (y − label)·w21·a·(1 − a)·x   = ${f(g.w11)}`,
    `  ∂J/∂b1  = (y − label)·w21·a·(1 − a)     = ${f(g.b1)}`,
    `one SGD step, w ← w − ${lr}·∂J/∂w`,
    `  w11 = ${f(u.w11)}   b1 = ${f(u.b1)}   w21 = ${f(u.w21)}   b2 = ${f(u.b2)}`,
    `  y = ${f(r.newY)} (was ${f(r.y)}), J = ${f(r.newLoss)} (was ${f(r.loss)})`,
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const lr = 0.1;
  console.log(report(runTwoNeuron(lr), lr));
}
