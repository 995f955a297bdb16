// A user's script outside the repository: plain Node ESM JavaScript against the installed
// tarballs. Trains a small CNN for a few steps on real Fashion-MNIST, exports it as ONNX and
// prints one JSON line.
import { prng, slice, valueAndGrad } from "@tapegrad/autodiff";
import { conv2d, crossEntropy, flatten, linear, maxPool2d, optim, sequential } from "@tapegrad/nn";
import { dataLoader, normalize, tensorDataset } from "@tapegrad/data";
import { fashionMnist } from "@tapegrad/data/node";
import { exportOnnx } from "@tapegrad/nn/onnx";

const { images, labels } = await fashionMnist({ split: "train" });
const x = normalize([0.286], [0.353])(slice(images, [0], [256]));
const y = slice(labels, [0], [256]);

const model = sequential([
  conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3, padding: 1, activation: "relu" }),
  maxPool2d({ kernelSize: 2 }),
  flatten(),
  linear({ inFeatures: 8 * 14 * 14, outFeatures: 10 }),
]);
let { params } = model.init(prng(0));
const optimizer = optim.adam({ lr: 0.01 });
let state = optimizer.init(params);
const step = valueAndGrad((p, xb, yb) => crossEntropy(model.apply(p, xb), yb));

const losses = [];
const loader = dataLoader(tensorDataset(x, y), { batchSize: 64, shuffle: true, seed: 0 });
for (let epoch = 0; epoch < 3; epoch++) {
  for (const [xb, yb] of loader.epoch(epoch)) {
    const [loss, grads] = step(params, xb, yb);
    [params, state] = optimizer.update(grads, state, params);
    losses.push(loss.item());
  }
}
const onnx = exportOnnx(model, params, {}, { inputShape: [1, 1, 28, 28] });
console.log(
  JSON.stringify({ losses, onnxBytes: onnx.length, onnxHead: Array.from(onnx.slice(0, 2)) }),
);
