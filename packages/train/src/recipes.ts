import type { ModelName } from "./models.js";

export type OptimizerName = "sgd" | "adam" | "adamw";

/** How a model trains unless the command line says otherwise. */
export interface Recipe {
  /** Epochs (the learning rate's cosine spans them all). */
  readonly epochs: number;
  readonly optimizer: OptimizerName;
  /** AdamW's decoupled weight decay λ (w ← w·(1 − lr·λ) each step); unused by sgd and adam. */
  readonly weightDecay: number;
  /** crossEntropy's label smoothing during training (evaluation never smooths). */
  readonly labelSmoothing: number;
  /** Random shifts by up to 2 pixels and left–right flips of every training batch. */
  readonly augment: boolean;
}

const PLAIN: Recipe = {
  epochs: 10,
  optimizer: "adam",
  // What --optimizer adamw uses for these: PyTorch's AdamW default.
  weightDecay: 0.01,
  labelSmoothing: 0,
  augment: false,
};

/**
 * The CNNs reach their accuracy with plain Adam in 10 epochs. The vision transformer has no
 * convolutional prior and overfits without regularisation (training loss half the test loss by
 * epoch 10), so it trains as ViTs do on small datasets: augmented images, AdamW and label
 * smoothing, for longer.
 */
export const RECIPES: Readonly<Record<ModelName, Recipe>> = {
  lenet: PLAIN,
  resnet: PLAIN,
  inception: PLAIN,
  vit: { epochs: 30, optimizer: "adamw", weightDecay: 0.05, labelSmoothing: 0.1, augment: true },
};

/** The default learning rate of each optimizer. */
export function defaultLr(optimizer: OptimizerName): number {
  return optimizer === "sgd" ? 0.05 : 1e-3;
}
