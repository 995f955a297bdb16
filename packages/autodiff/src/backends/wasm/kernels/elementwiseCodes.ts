// The numbers the wasm elementwise kernels take for each kind: the adapter (elementwise.ts)
// passes them, and assembly/elementwise.ts imports this file to switch on them, so both sides
// read one list. asc compiles this file as AssemblyScript too, so it holds integer constants only.

/** unaryF32: max(v, 0), with NaN and −0 giving +0. */
export const UNARY_RELU = 0;
/** unaryF32: 1 where v > 0, else 0. */
export const UNARY_STEP = 1;
/** unaryF32: −v. */
export const UNARY_NEG = 2;
/** unaryF32: |v|. */
export const UNARY_ABS = 3;
/** unaryF32: v·v. */
export const UNARY_SQUARE = 4;
/** unaryF32: √v. */
export const UNARY_SQRT = 5;
// The transcendental kinds, computed in float64 one element at a time (assembly/transcendental.ts).
/** unaryF32: e^v. The first transcendental code: every code from here on is one. */
export const UNARY_EXP = 6;
/** unaryF32: tanh v. */
export const UNARY_TANH = 7;
/** unaryF32: 1/(1 + e^−v). */
export const UNARY_SIGMOID = 8;
/** unaryF32: erf v. */
export const UNARY_ERF = 9;
/** unaryF32: v·Φ(v). */
export const UNARY_GELU = 10;
/** unaryF32: GELU's tanh approximation. */
export const UNARY_GELU_TANH = 11;

/** binaryRowsF32: a + b. */
export const BINARY_ADD = 0;
/** binaryRowsF32: a − b. */
export const BINARY_SUB = 1;
/** binaryRowsF32: a·b. */
export const BINARY_MUL = 2;
/** binaryRowsF32: a / b. */
export const BINARY_DIV = 3;
/** binaryRowsF32: a·[b > 0], relu's gradient. */
export const BINARY_RELU_GRAD = 4;
/** geluGradTask: a·gelu′(b), exact GELU's gradient. */
export const BINARY_GELU_GRAD = 5;
/** geluGradTask: a·gelu′(b) for GELU's tanh form. */
export const BINARY_GELU_TANH_GRAD = 6;
