// The portable entries must bundle for browsers: esbuild bundles each one for platform
// "browser", and any import of a Node built-in (node:fs, "path", …), static or dynamic, fails the
// test with the importing file named. Node-only code belongs in the ./node entries.
//
// A second check runs a browser bundle of all three in a bare JavaScript context (no process, no
// require, only the web globals every browser has): the bundler must keep every module that
// registers something when imported, as the backends do.
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

const ENTRIES = {
  "@tapegrad/autodiff": "packages/autodiff/src/index.ts",
  "@tapegrad/nn": "packages/nn/src/index.ts",
  "@tapegrad/data": "packages/data/src/index.ts",
} as const;

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

interface BuiltinImport {
  readonly path: string;
  readonly importer: string;
  readonly kind: string;
}

/** Records every import of a Node built-in and keeps it out of the bundle. */
function recordBuiltins(found: BuiltinImport[]): Plugin {
  return {
    name: "record-node-builtins",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.split("/")[0]!;
        const name = args.path.startsWith("node:") ? args.path : bare;
        if (!builtins.has(args.path) && !builtins.has(name)) return undefined;
        found.push({ path: args.path, importer: relative(root, args.importer), kind: args.kind });
        return { path: args.path, external: true };
      });
    },
  };
}

async function bundle(entry: string, stdin?: string) {
  const found: BuiltinImport[] = [];
  const result = await build({
    ...(stdin === undefined
      ? { entryPoints: [join(root, entry)] }
      : { stdin: { contents: stdin, resolveDir: here, loader: "ts" } }),
    bundle: true,
    write: false,
    platform: "browser",
    format: stdin === undefined ? "esm" : "iife",
    target: "es2022",
    tsconfig: join(root, "tsconfig.json"), // maps @tapegrad/* to the sources
    plugins: [recordBuiltins(found)],
    logLevel: "silent",
  });
  return { found, code: result.outputFiles[0]!.text };
}

describe("browser bundles", () => {
  for (const [name, entry] of Object.entries(ENTRIES)) {
    it(`${name} imports no Node built-in`, async () => {
      const { found } = await bundle(entry);
      const report = found.map((f) => `  ${f.importer}: ${f.kind} "${f.path}"`).join("\n");
      expect(found, `${name} (${entry}) imports Node built-ins:\n${report}`).toEqual([]);
    });
  }

  it("a browser bundle of all three runs where there is no Node", async () => {
    const { code } = await bundle(
      "<stdin>",
      `
      import { grad, mul, sum, tensor, prng } from "@tapegrad/autodiff";
      import { linear } from "@tapegrad/nn";
      import { dataLoader, tensorDataset } from "@tapegrad/data";
      const g = grad((x) => sum(mul(x, x)))(tensor([1, 2, 3]));
      const layer = linear({ inFeatures: 3, outFeatures: 2 });
      const y = layer.apply(layer.init(prng(0)).params, tensor([[1, 2, 3]]));
      const batches = [...dataLoader(tensorDataset(tensor([[1], [2], [3]])), { batchSize: 2 })];
      globalThis.result = { g: Array.from(g.data), y: y.shape, batches: batches.length };
      `,
    );
    // Only what every browser has beyond the JavaScript built-ins that the bundle uses.
    const web = { TextEncoder, TextDecoder, atob, btoa, console, performance };
    const context: Record<string, unknown> = { ...web };
    try {
      runInNewContext(code, context);
    } catch (error) {
      throw new Error(
        `the bundle failed in a bare context: ${String(error)}\n` +
          '("no backend is registered": the bundler dropped `import "./backends/js.js"` ' +
          "because packages/autodiff/package.json's sideEffects field does not list the " +
          "backend modules)",
      );
    }
    expect(context["result"]).toEqual({ g: [2, 4, 6], y: [1, 2], batches: 2 });
  });
});
