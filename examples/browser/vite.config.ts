import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * packages/autodiff/package.json declares `"sideEffects": ["./dist/index.js", "./src/index.ts"]`,
 * but src/backends/js.ts (and wasm/index.ts) register their backend when imported: a bundler
 * trusting the field drops `import "./backends/js.js"` and every op then fails with "kernels: no
 * backend is registered". Until the field lists the backends too, mark them here.
 */
function keepBackendRegistration(): Plugin {
  return {
    name: "tapegrad:keep-backend-registration",
    enforce: "pre",
    async resolveId(source, importer, options) {
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (resolved && /[\\/]packages[\\/]autodiff[\\/]src[\\/]backends[\\/]/.test(resolved.id)) {
        return { ...resolved, moduleSideEffects: true };
      }
      return resolved;
    },
  };
}

// The workspace packages are bundled from their TypeScript sources (as the tests use them), so
// the page needs no prior `pnpm build`. generated/ holds the data scripts/prepareData.ts wrote;
// as the public directory it is copied into dist/ unchanged.
export default defineConfig({
  root: src("."),
  base: "./",
  publicDir: "generated",
  plugins: [keepBackendRegistration()],
  resolve: {
    alias: [
      { find: /^@tapegrad\/autodiff$/, replacement: src("../../packages/autodiff/src/index.ts") },
      { find: /^@tapegrad\/nn$/, replacement: src("../../packages/nn/src/index.ts") },
      { find: /^@tapegrad\/data$/, replacement: src("../../packages/data/src/index.ts") },
    ],
  },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  preview: { host: "127.0.0.1" },
});
