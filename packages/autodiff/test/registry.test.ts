import { readdirSync } from "node:fs";
import { describe, it } from "vitest";
import "../src/index.js";
import { checkOpGradients, differentiableOps } from "../src/testing/index.js";

// Every module in custom-ops/ registers ops through the public defineOp, as a user would; they
// are verified below alongside the built-ins, with no test code of their own.
const customOps = new URL("./custom-ops/", import.meta.url);
for (const file of readdirSync(customOps).filter((f) => f.endsWith(".ts"))) {
  await import(new URL(file, customOps).href);
}

describe("every registered op's vjp matches central finite differences (float64)", () => {
  for (const op of differentiableOps()) {
    it(op.definition.name, () => checkOpGradients(op, { numRuns: 100 }));
  }
});
