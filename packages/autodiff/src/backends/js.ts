import { jsAttentionKernels } from "../kernels/attention.js";
import { jsConvKernels } from "../kernels/conv.js";
import { jsElementwiseKernels } from "../kernels/elementwise.js";
import { jsLayerNormKernels } from "../kernels/layerNorm.js";
import { jsMatmulKernels } from "../kernels/matmul.js";
import { jsNormKernels } from "../kernels/norm.js";
import { jsOptimKernels } from "../kernels/optim.js";
import { jsPoolKernels } from "../kernels/pool.js";
import { jsRecurrentKernels } from "../kernels/recurrent.js";
import { jsReduceKernels } from "../kernels/reduce.js";
import { jsShapeKernels } from "../kernels/shape.js";
import { jsSoftmaxKernels } from "../kernels/softmax.js";
import { registerBackend, type Kernels } from "./backend.js";

/** The pure TypeScript backend: complete, portable, and the fallback of every other backend. */
export const jsKernels: Kernels = {
  ...jsElementwiseKernels,
  ...jsReduceKernels,
  ...jsShapeKernels,
  ...jsMatmulKernels,
  ...jsSoftmaxKernels,
  ...jsPoolKernels,
  ...jsConvKernels,
  ...jsNormKernels,
  ...jsLayerNormKernels,
  ...jsOptimKernels,
  ...jsAttentionKernels,
  ...jsRecurrentKernels,
};

registerBackend({ name: "js", kernels: jsKernels }, true);
