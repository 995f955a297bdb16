import { describe, expect, it } from "vitest";
import { tensor } from "@tapegrad/autodiff";
import { accuracy, confusionMatrix, formatConfusionMatrix } from "./metrics.js";

const int32 = (values: number[]) => tensor(values, { dtype: "int32" });

// Predictions (argmax of each row): 1, 0, 2, 0 (the tie in row 3 goes to the first maximum).
const logits = tensor([
  [0.1, 2, 0.3],
  [5, -1, 0],
  [0, 0, 1],
  [0.7, 0.7, 0.2],
]);
const labels = int32([1, 0, 1, 2]);

describe("accuracy", () => {
  it("counts argmax predictions equal to the label", () => {
    // Right on rows 0 and 1, wrong on rows 2 (2 vs 1) and 3 (0 vs 2).
    expect(accuracy(logits, labels)).toBe(0.5);
    expect(accuracy(logits, int32([1, 0, 2, 0]))).toBe(1);
  });

  it("takes int32 predictions directly", () => {
    expect(accuracy(int32([1, 1, 0]), int32([1, 0, 0]))).toBeCloseTo(2 / 3, 15);
    expect(() => accuracy(int32([1, -1]), int32([1, 0]))).toThrow(
      "accuracy: predictions[1] = -1 is negative; expected a class index ≥ 0",
    );
  });

  it("rejects mismatched or missing examples", () => {
    expect(() => accuracy(logits, int32([1, 0]))).toThrow(
      "accuracy: labels must have shape [4] (logits have shape [4,3]), got [2]",
    );
    expect(() => accuracy(tensor([1, 0]), int32([1, 0]))).toThrow(
      "accuracy: expected logits [N, C] or int32 predictions [N], got a float32 tensor of shape [2]",
    );
    expect(() => accuracy(int32([]), int32([]))).toThrow(
      "accuracy: there are no examples (N = 0); the accuracy of none is undefined",
    );
  });
});

describe("confusionMatrix", () => {
  it("counts [true class, predicted class] pairs as int32 [C, C]", () => {
    const m = confusionMatrix(logits, labels, 3);
    expect(m.dtype).toBe("int32");
    expect(m.shape).toEqual([3, 3]);
    // Truth 1 → predicted 1 and 2; truth 0 → 0; truth 2 → 0.
    expect(m.toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [1, 0, 0],
    ]);
  });

  it("takes int32 predictions and may have classes that never occur", () => {
    const m = confusionMatrix(int32([0, 0, 1]), int32([0, 1, 1]), 4);
    expect(m.toArray()).toEqual([
      [1, 0, 0, 0],
      [1, 1, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it("checks numClasses against the logits, labels and predictions", () => {
    expect(() => confusionMatrix(logits, labels, 4)).toThrow(
      "confusionMatrix: logits have 3 classes (shape [4,3]), expected numClasses = 4",
    );
    expect(() => confusionMatrix(int32([0, 3]), int32([0, 1]), 3)).toThrow(
      "confusionMatrix: predictions[1] = 3 is out of range for 3 classes; expected 0 ≤ prediction < 3",
    );
    expect(() => confusionMatrix(int32([0, 1]), int32([0, 5]), 3)).toThrow(
      "confusionMatrix: labels[1] = 5 is out of range for 3 classes; expected 0 ≤ label < 3",
    );
    expect(() => confusionMatrix(int32([0]), int32([0]), 0)).toThrow(
      "confusionMatrix: numClasses must be a positive integer, got 0",
    );
  });
});

describe("formatConfusionMatrix", () => {
  it("lays out a table with rows = true class, columns = predicted class", () => {
    const m = tensor(
      [
        [12, 0, 3],
        [1, 140, 0],
        [0, 2, 7],
      ],
      { dtype: "int32" },
    );
    expect(formatConfusionMatrix(m, ["cat", "dog", "bird"])).toBe(
      [
        "true \\ predicted  cat  dog  bird",
        "cat                12    0     3",
        "dog                 1  140     0",
        "bird                0    2     7",
      ].join("\n"),
    );
  });

  it("numbers the classes by default", () => {
    const m = confusionMatrix(int32([0, 1]), int32([0, 0]), 2);
    expect(formatConfusionMatrix(m)).toBe(
      ["true \\ predicted  0  1", "0                 1  1", "1                 0  0"].join("\n"),
    );
  });

  it("rejects a non-square matrix or the wrong number of names", () => {
    expect(() => formatConfusionMatrix(tensor([[1, 2]]))).toThrow(
      "formatConfusionMatrix: matrix must be square [C, C], got shape [1,2]",
    );
    expect(() => formatConfusionMatrix(tensor([[1]]), ["a", "b"])).toThrow(
      "formatConfusionMatrix: classNames must hold one name per class (1), got 2 names",
    );
  });
});
