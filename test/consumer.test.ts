import { execFileSync } from "node:child_process";
import { builtinModules } from "node:module";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The published packages as a user gets them: packed with pnpm (which turns workspace:*
// dependencies into versions), installed with npm into a project outside the workspace, and
// used from plain JavaScript. The test command builds before it tests; packing does not rebuild.

const root = fileURLToPath(new URL("..", import.meta.url));
const PUBLISHED = ["autodiff", "nn", "data"] as const;
let project: string;

/** The command's stdout; a failure's error carries what it printed (tsc's errors, say). */
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, npm_config_loglevel: "error", npm_config_fund: "false" },
    });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout}${stderr}`);
  }
}

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
  for (const script of ["train.js", "browser.js", "consumer.ts"]) {
    copyFileSync(join(root, "test", "consumer", script), join(project, script));
  }
}, 180_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe("the packed packages, installed with npm outside the workspace", () => {
  it("train a small CNN on real Fashion-MNIST from a plain Node ESM script, export it to ONNX", () => {
    const { losses, onnxBytes, onnxHead } = JSON.parse(run("node", ["train.js"], project)) as {
      losses: number[];
      onnxBytes: number;
      onnxHead: number[];
    };
    expect(losses.length).toBe(12);
    expect(losses.every(Number.isFinite)).toBe(true);
    // Three epochs of 256 images: the loss of the last batches is well below the first's.
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 2);
    // The ONNX model: its weights (15,770 float32 values) and a ModelProto's first field, the
    // IR version (field 1, varint: bytes 0x08 then 8).
    expect(onnxBytes).toBeGreaterThan(15_770 * 4);
    expect(onnxHead).toEqual([0x08, 8]);
  });

  it("bundle for the browser with Vite, pulling in no Node built-in", async () => {
    // Vite as examples/browser installs it; it resolves the packages from the consumer project.
    const vite = (await import(
      pathToFileURL(
        join(root, "examples", "browser", "node_modules", "vite", "dist", "node", "index.js"),
      ).href
    )) as { build(config: object): Promise<unknown> };
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const found: string[] = [];
    await vite.build({
      root: project,
      logLevel: "silent",
      configFile: false,
      // Before Vite's own resolver, which would turn a built-in into an empty browser stub.
      plugins: [
        {
          name: "record-node-builtins",
          enforce: "pre",
          resolveId(source: string, importer: string | undefined) {
            if (!builtins.has(source) && !builtins.has(source.split("/")[0]!)) return null;
            found.push(`${source} from ${importer ?? "?"}`);
            return { id: source, external: true };
          },
        },
      ],
      build: {
        outDir: join(project, "dist"),
        lib: { entry: join(project, "browser.js"), formats: ["es"], fileName: "browser" },
      },
    });
    expect(found).toEqual([]);
    expect(readdirSync(join(project, "dist")).some((f) => f.endsWith(".js"))).toBe(true);
  }, 120_000);

  it.each([
    ["nodenext", "nodenext"],
    ["bundler", "esnext"],
  ])(
    "type-check under strict TypeScript, moduleResolution %s, skipLibCheck false, no fast-check",
    (moduleResolution, module) => {
      expect(() => run("npm", ["ls", "fast-check"], project)).toThrow();
      const config = `tsconfig.${moduleResolution}.json`;
      writeFileSync(
        join(project, config),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            target: "es2022",
            module,
            moduleResolution,
            types: ["node"],
            typeRoots: [join(root, "node_modules", "@types")],
          },
          files: ["consumer.ts"],
        }),
      );
      const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
      run(process.execPath, [tsc, "-p", config], project);
    },
    60_000,
  );
});
