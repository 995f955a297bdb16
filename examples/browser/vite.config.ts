import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The response headers that make the page cross-origin isolated. */
export const CROSS_ORIGIN_ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

// The workspace packages are bundled from their TypeScript sources (as the tests use them), so
// the page needs no prior `pnpm build`. generated/ holds the data scripts/prepareData.ts wrote;
// as the public directory it is copied into dist/ unchanged.
export default defineConfig({
  root: src("."),
  base: "./",
  publicDir: "generated",
  resolve: {
    alias: [
      { find: /^@tapegrad\/autodiff$/, replacement: src("../../packages/autodiff/src/index.ts") },
      { find: /^@tapegrad\/nn$/, replacement: src("../../packages/nn/src/index.ts") },
      { find: /^@tapegrad\/data$/, replacement: src("../../packages/data/src/index.ts") },
    ],
  },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  // Cross-origin isolation: without these two headers browsers refuse SharedArrayBuffer, and the
  // wasm kernels run on one thread. A site hosting the built page must send them too.
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { host: "127.0.0.1", headers: CROSS_ORIGIN_ISOLATION },
});
