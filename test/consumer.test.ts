import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The published packages as a user gets them: packed with pnpm (which turns workspace:*
// dependencies into versions), installed with npm into a project outside the workspace, and
// used from plain JavaScript. The test command builds before it tests; packing does not rebuild.

const root = fileURLToPath(new URL("..", import.meta.url));
const PUBLISHED = ["autodiff", "nn", "data"] as const;
let project: string;

const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, npm_config_loglevel: "error", npm_config_fund: "false" },
  });

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "tapegrad-consumer-"));
  const tarballs = join(project, "tarballs");
  for (const name of PUBLISHED) {
    run(
      "npx",
      ["-y", "pnpm@10", "pack", "--pack-destination", tarballs, "--config.ignore-scripts=true"],
      join(root, "packages", name),
    );
  }
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  expect(files).toHaveLength(PUBLISHED.length);
  run("npm", ["install", "--no-audit", "--ignore-scripts", ...files], project);
  copyFileSync(join(root, "test", "consumer", "train.js"), join(project, "train.js"));
}, 180_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe("the packed packages, installed with npm outside the workspace", () => {
  it("train a small CNN on real Fashion-MNIST from a plain Node ESM script", () => {
    const { losses } = JSON.parse(run("node", ["train.js"], project)) as { losses: number[] };
    expect(losses.length).toBe(12);
    expect(losses.every(Number.isFinite)).toBe(true);
    // Three epochs of 256 images: the loss of the last batches is well below the first's.
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 2);
  });
});
