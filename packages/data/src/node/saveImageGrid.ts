import { writeFile } from "node:fs/promises";
import type { Tensor } from "@tapegrad/autodiff";
import { imageGridPng, type ImageGridOptions } from "../formats/imageGrid.js";

/** Writes images [N,1|3,H,W] as a PNG grid (see imageGrid for the layout) to `path`. */
export async function saveImageGrid(
  path: string,
  images: Tensor,
  options: ImageGridOptions = {},
): Promise<void> {
  await writeFile(path, imageGridPng(images, options));
}
