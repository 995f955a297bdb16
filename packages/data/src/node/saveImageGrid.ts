import { writeFile } from "node:fs/promises";
import type { Tensor } from "@tapegrad/autodiff";
import { fileError } from "../errors.js";
import { imageGridPng, type ImageGridOptions } from "../formats/imageGrid.js";

/** Writes images [N,1|3,H,W] as a PNG grid (see imageGrid for the layout) to `path`. */
export async function saveImageGrid(
  path: string,
  images: Tensor,
  options: ImageGridOptions = {},
): Promise<void> {
  const png = imageGridPng(images, options);
  try {
    await writeFile(path, png);
  } catch (error) {
    throw fileError("saveImageGrid", path, error);
  }
}
