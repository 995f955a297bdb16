/**
 * The models the training job trains, for other workspace packages (the benchmarks time their
 * steps). The job itself runs from the command line: `src/cli.ts`.
 */
export { MODEL_NAMES, inception, lenet, makeModel, resnet, vit, type ModelName } from "./models.js";
