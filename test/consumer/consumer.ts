// A user's TypeScript against the installed tarballs, type-checked strictly (skipLibCheck false)
// without fast-check installed: every entry but /testing must type-check without it.
import { grad, prng, sum, tanh, type Tensor } from "@tapegrad/autodiff";
import { linear, sequential, type Layer } from "@tapegrad/nn";
import { loadCheckpointSync } from "@tapegrad/nn/node";
import { exportOnnx } from "@tapegrad/nn/onnx";
import { tensorDataset } from "@tapegrad/data";
import { fashionMnist } from "@tapegrad/data/node";

const model: Layer = sequential([linear({ inFeatures: 4, outFeatures: 2 })]);
const { params } = model.init(prng(0));
const x: Tensor = prng(1).normal([3, 4]);
const g: unknown = grad((p: unknown) => sum(tanh(model.apply(p, x))))(params);
const size: number = tensorDataset(x).length;
const onnx: Uint8Array = exportOnnx(model, params, {}, { inputShape: [1, 4] });
export const uses = [g, size, onnx, loadCheckpointSync, fashionMnist];
