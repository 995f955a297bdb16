/**
 * File access (Node only): `fashionMnist` and `mnist` from IDX files (gzip or not),
 * `readIdxFile` and `saveImageGrid`.
 *
 * @module @tapegrad/data/node
 */
// The Node-only entry: everything that touches the file system or node:zlib.
export { readIdxFile } from "./readIdxFile.js";
export { fashionMnist, mnist, FASHION_MNIST_SYSTEM_DIR, type MnistOptions } from "./mnist.js";
export { saveImageGrid } from "./saveImageGrid.js";
