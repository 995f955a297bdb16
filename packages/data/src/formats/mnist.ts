import { tensor, type Tensor } from "@tapegrad/autodiff";
import { corruptFile, showShape } from "../errors.js";
import type { IdxData } from "./idx.js";

/** Fashion-MNIST's ten classes, by label 0…9. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** An image classification set: images float32 [N,1,H,W] in [0,1] and int32 labels [N]. */
export interface LabelledImages {
  /** float32 [N, 1, H, W], values in [0, 1]. */
  readonly images: Tensor;
  /** int32 [N], class indices. */
  readonly labels: Tensor;
}

/** The files the two IDX arrays came from, for error messages. */
export interface MnistSources {
  /** Where the images came from (a path or a name). */
  readonly images: string;
  /** Where the labels came from (a path or a name). */
  readonly labels: string;
}

/**
 * MNIST-layout IDX arrays as tensors: uint8 images [N,H,W] become float32 [N,1,H,W] with
 * y = x / 255, and uint8 labels [N] (each below `numClasses`) become int32 [N].
 */
export function mnistFromIdx(
  images: IdxData,
  labels: IdxData,
  sources: MnistSources = { images: "images", labels: "labels" },
  numClasses = 10,
): LabelledImages {
  if (images.dtype !== "uint8" || images.shape.length !== 3) {
    throw corruptFile(
      sources.images,
      `expected uint8 images [N,H,W], got ${images.dtype} ${showShape(images.shape)}`,
    );
  }
  if (labels.dtype !== "uint8" || labels.shape.length !== 1) {
    throw corruptFile(
      sources.labels,
      `expected uint8 labels [N], got ${labels.dtype} ${showShape(labels.shape)}`,
    );
  }
  const n = images.shape[0]!;
  const h = images.shape[1]!;
  const w = images.shape[2]!;
  if (labels.shape[0] !== n) {
    throw corruptFile(
      sources.labels,
      `holds ${labels.shape[0]} labels but ${sources.images} holds ${n} images`,
    );
  }
  const labelValues = labels.data;
  const labelData = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labelValues[i]!;
    if (label >= numClasses) {
      throw corruptFile(sources.labels, `label ${i} is ${label}; expected 0…${numClasses - 1}`);
    }
    labelData[i] = label;
  }
  const values = images.data;
  const pixels = new Float32Array(values.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = values[i]! / 255;
  return {
    images: tensor(pixels, { shape: [n, 1, h, w], copy: false }),
    labels: tensor(labelData, { copy: false }),
  };
}
