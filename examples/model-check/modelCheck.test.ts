import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mul } from "@tapegrad/autodiff";
import { GradientMismatchError, checkGrads } from "@tapegrad/autodiff/testing";
import { paramCount } from "@tapegrad/nn";
import { withPlantedBug } from "@tapegrad/test-kit";
import { TEXT, initTransformer, loss, windows } from "./transformer.js";

const params = initTransformer(0);
const tokens = windows(TEXT, 4);

describe("gradient checks of a whole transformer", () => {
  it("has 52,684 params and passes the random-direction and a sampled reverse check", () => {
    expect(paramCount(params)).toBe(52_684);
    expect(checkGrads(loss, [params, tokens], { argnums: 0, modes: ["fwd"] }).checked).toBe(2);
    expect(checkGrads(loss, [params, tokens], { argnums: 0, samples: 40 }).checked).toBe(40);
  });

  it("a bug planted in softmax's vjp is found and named at the line that applies it", () => {
    let error: unknown;
    withPlantedBug(
      "softmax",
      (right) => (ctx) => right(ctx).map((g) => g && mul(g, 1.05)),
      () => {
        try {
          checkGrads(loss, [params, tokens], { argnums: 0, modes: ["fwd"] });
        } catch (e) {
          error = e;
        }
      },
    );
    expect(error).toBeInstanceOf(GradientMismatchError);
    const { faultyOps } = error as GradientMismatchError;
    expect(faultyOps.map((op) => op.op)).toEqual(["softmax"]);
    const source = readFileSync(new URL("./transformer.ts", import.meta.url), "utf8").split("\n");
    const line = source.findIndex((text) => text.includes("matmul(softmax(scores, -1), v)")) + 1;
    expect(faultyOps[0]!.site).toContain(`transformer.ts:${line}:`);
  });
});
