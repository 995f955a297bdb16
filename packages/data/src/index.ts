/**
 * Datasets, a seeded batching `dataLoader`, image transforms, the IDX and MNIST formats and
 * image grids. The portable entry: no Node built-ins (file access is in `@tapegrad/data/node`).
 *
 * @module @tapegrad/data
 */
// The portable entry: no Node built-ins, so it runs in browsers too (file access: ./node).
export type { Dataset } from "./datasets/dataset.js";
export { tensorDataset, type TensorDataset } from "./datasets/tensorDataset.js";
export { mapDataset } from "./datasets/mapDataset.js";
export { subset } from "./datasets/subset.js";
export { randomSplit } from "./datasets/randomSplit.js";
export { concatDatasets } from "./datasets/concatDatasets.js";
export { twoMoons, type TwoMoons } from "./synthetic/twoMoons.js";
export {
  charTokenizer,
  type CharTokenizer,
  type CharTokenizerOptions,
} from "./text/charTokenizer.js";
export { textWindows, type TextWindows, type TextWindowsOptions } from "./text/textWindows.js";
export { padCollate, type PaddedBatch, type PadCollateOptions } from "./text/padCollate.js";
export { collate, type Collated } from "./collate.js";
export { deriveRng } from "./seed.js";
export { epochOrder, type EpochOrderOptions } from "./order.js";
export {
  dataLoader,
  type DataLoader,
  type DataLoaderOptions,
  type EpochBatches,
} from "./loader.js";
export { compose, onInputs, type Transform } from "./transforms/transform.js";
export { toFloat, normalize } from "./transforms/pixel.js";
export {
  randomCrop,
  randomTranslate,
  randomHorizontalFlip,
  type RandomCropOptions,
} from "./transforms/geometric.js";
export {
  readIdx,
  readIdxHeader,
  writeIdx,
  isGzip,
  MAX_IDX_PAYLOAD_BYTES,
  type IdxData,
  type IdxDType,
  type IdxArray,
  type IdxHeader,
} from "./formats/idx.js";
export {
  mnistFromIdx,
  FASHION_MNIST_CLASSES,
  type LabelledImages,
  type MnistSources,
} from "./formats/mnist.js";
export {
  imageGrid,
  imageGridPng,
  type ImageGridOptions,
  type RgbaImage,
} from "./formats/imageGrid.js";
