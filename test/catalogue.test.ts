import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { CATALOGUE_PATH, renderCatalogue } from "../scripts/catalogue.js";

it("docs/catalogue.md lists the ops and exports as they are (regenerate: npx tsx scripts/catalogue.ts)", async () => {
  expect(readFileSync(CATALOGUE_PATH, "utf8")).toBe(await renderCatalogue());
}, 60_000);
