export { add, sub, mul, div, pow, maximum, minimum } from "./binary.js";
export { equal, notEqual, less, lessEqual, greater, greaterEqual, where } from "./compare.js";
export {
  neg,
  exp,
  log,
  log1p,
  sqrt,
  abs,
  sin,
  cos,
  tanh,
  sigmoid,
  relu,
  leakyRelu,
  softplus,
  square,
  reciprocal,
  sign,
  step,
} from "./unary.js";
export { sum, mean, type ReduceAttrs } from "./reduce.js";
export { reshape, broadcastTo, expandDims, squeeze, flatten } from "./reshape.js";
export { cast } from "./cast.js";
export { transpose } from "./transpose.js";
