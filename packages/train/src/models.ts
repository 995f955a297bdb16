import { add, pad, reshape, slice, transpose, type Tensor } from "@tapegrad/autodiff";
import {
  avgPool2d,
  batchNorm2d,
  conv2d,
  defineLayer,
  flatten,
  globalAvgPool2d,
  layerNorm,
  linear,
  maxPool2d,
  parallel,
  relu,
  residual,
  sequential,
  statelessLayer,
  transformerEncoderLayer,
  type Layer,
} from "@tapegrad/nn";

export type ModelName = "lenet" | "resnet" | "inception" | "vit";
export const MODEL_NAMES: readonly ModelName[] = ["lenet", "resnet", "inception", "vit"];

/**
 * LeNet-5 for 28×28 inputs: two conv+relu+pool stages (the first padded to keep 28×28), three
 * dense. Each conv applies its bias and relu in its own kernel call (activation "relu").
 */
export function lenet(): Layer {
  return sequential({
    conv1: conv2d({ inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2, activation: "relu" }),
    pool1: maxPool2d({ kernelSize: 2 }),
    conv2: conv2d({ inChannels: 6, outChannels: 16, kernelSize: 5, activation: "relu" }),
    pool2: maxPool2d({ kernelSize: 2 }),
    flatten: flatten(),
    fc1: linear({ inFeatures: 16 * 5 * 5, outFeatures: 120 }),
    relu3: relu(),
    fc2: linear({ inFeatures: 120, outFeatures: 84 }),
    relu4: relu(),
    fc3: linear({ inFeatures: 84, outFeatures: 10 }),
  });
}

/** conv → batch norm → relu, the unit every block below is made of. */
function convBnRelu(inChannels: number, outChannels: number, kernelSize: number, stride = 1) {
  const padding = (kernelSize - 1) / 2;
  return sequential({
    conv: conv2d({ inChannels, outChannels, kernelSize, stride, padding, bias: false }),
    bn: batchNorm2d({ numFeatures: outChannels }),
    relu: relu(),
  });
}

/** A basic residual block (two 3×3 convs); a 1×1 projection shortcut where the shape changes. */
function basicBlock(inChannels: number, outChannels: number, stride: number): Layer {
  const block = sequential({
    conv1: conv2d({ inChannels, outChannels, kernelSize: 3, stride, padding: 1, bias: false }),
    bn1: batchNorm2d({ numFeatures: outChannels }),
    relu: relu(),
    conv2: conv2d({ inChannels: outChannels, outChannels, kernelSize: 3, padding: 1, bias: false }),
    bn2: batchNorm2d({ numFeatures: outChannels }),
  });
  const projects = stride !== 1 || inChannels !== outChannels;
  const shortcut = projects
    ? sequential({
        conv: conv2d({ inChannels, outChannels, kernelSize: 1, stride, bias: false }),
        bn: batchNorm2d({ numFeatures: outChannels }),
      })
    : undefined;
  return sequential({ add: residual(block, shortcut), relu: relu() });
}

/**
 * A small ResNet: a 32-channel stem pooled to 14×14, then three stages of one basic block each
 * (32 channels at 14×14, 64 at 7×7, 128 at 4×4), global average pooling and a linear classifier.
 */
export function resnet(): Layer {
  return sequential({
    stem: convBnRelu(1, 32, 3),
    pool: maxPool2d({ kernelSize: 2 }),
    block1: basicBlock(32, 32, 1),
    block2: basicBlock(32, 64, 2),
    block3: basicBlock(64, 128, 2),
    gap: globalAvgPool2d(),
    flatten: flatten(),
    fc: linear({ inFeatures: 128, outFeatures: 10 }),
  });
}

/** An Inception block: 1×1, 1×1→3×3, 1×1→5×5 and pool→1×1 branches concatenated on channels. */
function inceptionBlock(
  inChannels: number,
  widths: { b1: number; b3: number; b5: number; pool: number },
) {
  const reduce = Math.max(8, inChannels / 2);
  return parallel({
    branch1: convBnRelu(inChannels, widths.b1, 1),
    branch3: sequential({
      reduce: convBnRelu(inChannels, reduce, 1),
      conv: convBnRelu(reduce, widths.b3, 3),
    }),
    branch5: sequential({
      reduce: convBnRelu(inChannels, reduce, 1),
      conv: convBnRelu(reduce, widths.b5, 5),
    }),
    pool: sequential({
      pool: maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
      proj: convBnRelu(inChannels, widths.pool, 1),
    }),
  });
}

/** A small Inception network: a stem, two Inception blocks with pooling between, global pooling. */
export function inception(): Layer {
  return sequential({
    stem: convBnRelu(1, 24, 3),
    pool1: maxPool2d({ kernelSize: 2 }),
    block1: inceptionBlock(24, { b1: 16, b3: 24, b5: 8, pool: 8 }),
    pool2: maxPool2d({ kernelSize: 2 }),
    block2: inceptionBlock(56, { b1: 32, b3: 48, b5: 16, pool: 16 }),
    pool: avgPool2d({ kernelSize: 7 }),
    flatten: flatten(),
    fc: linear({ inFeatures: 112, outFeatures: 10 }),
  });
}

/**
 * The vision transformer's size: a patch every 4 pixels of 28×28 images gives 49 tokens and a
 * class token; each patch is 8×8, overlapping its neighbours by 4 pixels.
 */
const VIT = { stride: 4, patch: 8, dim: 64, heads: 4, layers: 4, hidden: 128, dropout: 0 } as const;

/**
 * A small vision transformer (Dosovitskiy et al. 2020): patches embedded by a strided
 * convolution, a learned class token and learned positions, four pre-norm transformer encoder
 * layers (64 wide, 4 heads, GELU feed-forward 128), a final layer norm and a linear head on the
 * class token. The patches overlap (8×8 at stride 4, padded by 2 so that each is centred where a
 * 4×4 patch would be), which gives a small ViT some of a CNN's locality on a small dataset.
 */
export function vit(): Layer {
  const tokens = (28 / VIT.stride) ** 2 + 1;
  const patches = conv2d({
    inChannels: 1,
    outChannels: VIT.dim,
    kernelSize: VIT.patch,
    stride: VIT.stride,
    padding: (VIT.patch - VIT.stride) / 2,
  });
  const encoder = sequential(
    Array.from({ length: VIT.layers }, () =>
      transformerEncoderLayer({
        dModel: VIT.dim,
        numHeads: VIT.heads,
        dimFeedforward: VIT.hidden,
        dropout: VIT.dropout,
        activation: "gelu",
        batchFirst: true,
        normFirst: true,
      }),
    ),
  );
  const embed = classTokenAndPositions(tokens, VIT.dim);
  return sequential({
    patches,
    // [B, D, 7, 7] → [B, 49, D]: one token per patch.
    tokens: statelessLayer("patchTokens", (x) =>
      transpose(reshape(x, [x.shape[0]!, VIT.dim, tokens - 1]), [0, 2, 1]),
    ),
    embed,
    encoder,
    norm: layerNorm({ normalizedShape: VIT.dim }),
    cls: statelessLayer("classToken", (x) =>
      reshape(slice(x, [0, 0, 0], [x.shape[0]!, 1, VIT.dim]), [x.shape[0]!, VIT.dim]),
    ),
    head: linear({ inFeatures: VIT.dim, outFeatures: 10 }),
  });
}

/**
 * Prepends a learned class token to [B, N, D] tokens and adds learned positions: params
 * `{ cls_token: [1, 1, D], pos_embedding: [1, N + 1, D] }`, both N(0, 0.02²) as in ViT. The
 * tokens are padded with a zero row in front and the class token added there, which equals
 * concatenating it and keeps every constant free of the batch size (an ONNX export's batch axis
 * stays dynamic).
 */
function classTokenAndPositions(tokens: number, dim: number): Layer {
  const std = 0.02;
  return defineLayer<{ cls_token: Tensor; pos_embedding: Tensor }, Record<string, never>>({
    kind: "classTokenAndPositions",
    init: (rng) => ({
      params: {
        cls_token: rng.normal([1, 1, dim], { std }),
        pos_embedding: rng.normal([1, tokens, dim], { std }),
      },
      state: {},
    }),
    applyWithState: (params, state, x) => {
      const front = pad(x, [
        [0, 0],
        [1, 0],
      ]);
      const cls = pad(params.cls_token, [
        [0, 0],
        [0, tokens - 1],
      ]);
      return [add(front, add(cls, params.pos_embedding)), state];
    },
  });
}

export function makeModel(name: ModelName): Layer {
  switch (name) {
    case "lenet":
      return lenet();
    case "resnet":
      return resnet();
    case "inception":
      return inception();
    case "vit":
      return vit();
  }
}
