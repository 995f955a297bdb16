import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests run on the TypeScript sources, so workspace packages resolve to src/, not dist/.
export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^@tapegrad\/autodiff\/testing$/,
        replacement: src("./packages/autodiff/src/testing/index.ts"),
      },
      { find: /^@tapegrad\/autodiff$/, replacement: src("./packages/autodiff/src/index.ts") },
      { find: /^@tapegrad\/nn\/node$/, replacement: src("./packages/nn/src/node/index.ts") },
      { find: /^@tapegrad\/nn\/onnx$/, replacement: src("./packages/nn/src/onnx/index.ts") },
      { find: /^@tapegrad\/nn$/, replacement: src("./packages/nn/src/index.ts") },
      { find: /^@tapegrad\/data\/node$/, replacement: src("./packages/data/src/node/index.ts") },
      { find: /^@tapegrad\/data$/, replacement: src("./packages/data/src/index.ts") },
    ],
  },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    pool: "threads",
    // Outputs that kernels promise to write in full come back NaN-filled instead of unfilled,
    // so a kernel that skips an element fails here rather than passing on zeroed memory.
    env: { TAPEGRAD_POISON_UNINITIALIZED: "1" },
    testTimeout: 120_000,
  },
});
