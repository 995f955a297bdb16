import type { FloatArray } from "../../../dtype.js";
import {
  attentionBackward as jsAttentionBackward,
  attentionForward as jsAttentionForward,
  type AttentionKernels,
  type AttentionLayout,
} from "../../../kernels/attention.js";
import { singleThreadRuntime, type WasmRuntime } from "../runtime/wasmRuntime.js";
import { wasmTuning } from "../tuning.js";
import { wasmMatmulKernels } from "./matmul.js";

// Float32 attention in wasm (assembly/attention.ts): every head's products and row passes run in
// one call, with one copy in of the operands and one copy out of the results, instead of a
// round trip per product. The js kernel stays the reference and the fallback, its products on
// wasm's GEMM: float64, dropout (whose uniforms come from a JavaScript generator, drawn in an
// order the wasm row passes would have to call back for), calls of less work than
// minProductWork, and empty dimensions.

const NO_MASK = 0;
const KEEP_MASK = 1;
const ADD_MASK = 2;

/** The runtime for a float32 call of `work` multiply-adds without dropout, else null (js). */
function runtimeFor(layout: AttentionLayout, work: number, arrays: FloatArray[]) {
  const { heads, lq, lk, e, ev, dropout } = layout;
  if (dropout !== null || work < wasmTuning.minProductWork) return null;
  if (heads === 0 || lq === 0 || lk === 0 || e === 0 || ev === 0) return null;
  for (const array of arrays) if (!(array instanceof Float32Array)) return null;
  return singleThreadRuntime(...arrays);
}

type MaskArguments = [at: number, kind: number, headsAt: number, rows: number, cols: number];

/** The mask's arguments for the kernels: data address, kind, head offsets, strides. */
function maskArguments(runtime: WasmRuntime, layout: AttentionLayout): MaskArguments {
  const { mask } = layout;
  if (mask === null) return [0, NO_MASK, 0, 0, 0];
  let data = mask.data;
  // A float64 mask on float32 operands is added in float32, as the scores are stored.
  if (data instanceof Float64Array) data = Float32Array.from(data);
  const at = runtime.input(data);
  const kind = mask.additive ? ADD_MASK : KEEP_MASK;
  return [at, kind, runtime.args(mask.headOffsets), mask.rowStride, mask.colStride];
}

/** `values` as float32: lse and dlse may come in any float type. */
function float32(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

const attentionForward: AttentionKernels["attentionForward"] = (q, k, v, layout, y, lse) => {
  const { heads, lq, lk, e, ev, scale, causal } = layout;
  const runtime = runtimeFor(layout, heads * lq * lk * (e + ev), [q, k, v, y, lse]);
  if (runtime === null) {
    jsAttentionForward(wasmMatmulKernels.matmul, q, k, v, layout, y, lse);
    return;
  }
  runtime.reset();
  const qAt = runtime.input(q);
  const kAt = runtime.input(k);
  const vAt = runtime.input(v);
  const [maskAt, kind, headsAt, rowStride, colStride] = maskArguments(runtime, layout);
  const yAt = runtime.output(y);
  const lseAt = runtime.output(lse);
  const s = runtime.alloc(4 * lq * lk);
  const scratch = runtime.alloc(runtime.exports.gemmScratchBytes());
  runtime.exports.attentionForwardF32(
    qAt,
    kAt,
    vAt,
    heads,
    lq,
    lk,
    e,
    ev,
    scale,
    causal ? 1 : 0,
    maskAt,
    kind,
    headsAt,
    rowStride,
    colStride,
    yAt,
    lseAt,
    s,
    scratch,
  );
  runtime.copyOut(yAt, y);
  runtime.copyOut(lseAt, lse);
};

const attentionBackward: AttentionKernels["attentionBackward"] = (
  dy,
  q,
  k,
  v,
  y,
  lse,
  dlse,
  layout,
  dq,
  dk,
  dv,
  dmask,
) => {
  const { heads, lq, lk, e, ev, scale, causal } = layout;
  const arrays = [dy, q, k, v, y, dq, dk, dv, ...(dmask === null ? [] : [dmask])];
  const runtime = runtimeFor(layout, 2 * heads * lq * lk * (e + ev), arrays);
  if (runtime === null) {
    const { matmul } = wasmMatmulKernels;
    jsAttentionBackward(matmul, dy, q, k, v, y, lse, dlse, layout, dq, dk, dv, dmask);
    return;
  }
  runtime.reset();
  const dyAt = runtime.input(dy);
  const qAt = runtime.input(q);
  const kAt = runtime.input(k);
  const vAt = runtime.input(v);
  const yAt = runtime.input(y);
  const lseAt = runtime.input(float32(lse));
  const dlseAt = runtime.input(float32(dlse));
  const [maskAt, kind, headsAt, rowStride, colStride] = maskArguments(runtime, layout);
  // ds is added into dmask: it goes in with what the caller put there.
  const dmaskAt = dmask === null ? 0 : runtime.output(dmask);
  if (dmask !== null) runtime.f32.set(dmask, dmaskAt / 4);
  const dqAt = runtime.output(dq);
  const dkAt = runtime.output(dk);
  const dvAt = runtime.output(dv);
  const s = runtime.alloc(4 * lq * lk);
  const dp = runtime.alloc(4 * lq * lk);
  const scratch = runtime.alloc(runtime.exports.gemmScratchBytes());
  runtime.exports.attentionBackwardF32(
    dyAt,
    qAt,
    kAt,
    vAt,
    yAt,
    lseAt,
    dlseAt,
    heads,
    lq,
    lk,
    e,
    ev,
    scale,
    causal ? 1 : 0,
    maskAt,
    kind,
    headsAt,
    rowStride,
    colStride,
    dmaskAt,
    dqAt,
    dkAt,
    dvAt,
    s,
    dp,
    scratch,
  );
  runtime.copyOut(dqAt, dq);
  runtime.copyOut(dkAt, dk);
  runtime.copyOut(dvAt, dv);
  if (dmask !== null) runtime.copyOut(dmaskAt, dmask);
};

/** The attention kernels the wasm backend replaces: float32 without dropout runs in wasm. */
export const wasmAttentionKernels: AttentionKernels = { attentionForward, attentionBackward };
