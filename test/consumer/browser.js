// A user's browser entry against the installed tarballs: the portable entries only.
import { grad, prng, sum, tanh } from "@tapegrad/autodiff";
import { linear, sequential } from "@tapegrad/nn";
import { exportOnnx } from "@tapegrad/nn/onnx";
import { tensorDataset } from "@tapegrad/data";

const model = sequential([linear({ inFeatures: 4, outFeatures: 2 })]);
const { params } = model.init(prng(0));
const x = prng(1).normal([3, 4]);
const g = grad((p) => sum(tanh(model.apply(p, x))))(params);
const onnx = exportOnnx(model, params, {}, { inputShape: [1, 4] });
globalThis.result = { shape: g[0].weight.shape, size: tensorDataset(x).length, onnx: onnx.length };
