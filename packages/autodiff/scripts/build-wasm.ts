// Compiles assembly/ with AssemblyScript (the `assemblyscript` devDependency, no global tools)
// into four modules and embeds them, base64, in src/backends/wasm/module.generated.ts, so the
// package loads the backend in Node and browsers without fs or fetch. Run: pnpm build:wasm.
// Beside the modules it writes what the TypeScript side must agree on with them: the memory's
// page limit, the field order of assembly/convArgs.ts and the KernelExports interface (from
// asc's declarations of the exports). test/backends.test.ts rebuilds and checks that the whole
// file equals a fresh build.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * 2 GiB: the most the arena may grow to. A shared memory must declare its maximum; the runtime
 * reads it from module.generated.ts (maximumPages).
 */
export const MAXIMUM_PAGES = 32768;

const common = [
  "assembly/index.ts",
  "--enable",
  "simd",
  "-O3",
  "--runtime",
  "stub",
  "--noAssert",
  "--importMemory",
  "--noExportMemory",
  "--initialMemory",
  "1",
  "--maximumMemory",
  String(MAXIMUM_PAGES),
];

/**
 * `shared` imports a shared memory that pool workers run on too; `local` an ordinary one, for
 * hosts without SharedArrayBuffer (a browser page that is not cross-origin isolated);
 * `relaxed` is `shared` with relaxed SIMD, whose fused multiply-add the GEMM micro-kernels use
 * (Node ≥ 22 and Chrome ≥ 114 validate it; Node 20 with --experimental-wasm-relaxed-simd).
 * `local` and `relaxedLocal` also serve as the single-thread twins of `shared` and `relaxed`:
 * calls that run on one thread copy in and out of an ordinary memory, which is cheaper
 * (docs/performance.md#wasm-thresholds-and-kernel-choices).
 */
export const variants = {
  shared: [...common, "--enable", "threads", "--sharedMemory"],
  local: common,
  relaxed: [...common, "--enable", "threads", "--sharedMemory", "--enable", "relaxed-simd"],
  relaxedLocal: [...common, "--enable", "relaxed-simd"],
} as const;

export type Variant = keyof typeof variants;

/** One variant's build: the module's bytes and asc's TypeScript declarations of its exports. */
export interface Build {
  /** The compiled module. */
  readonly binary: Uint8Array;
  /** kernels.d.ts as asc's raw bindings write it: one `export function` per export. */
  readonly declarations: string;
}

/** Compiles one variant in memory. */
export async function compileVariant(variant: Variant): Promise<Build> {
  let binary: Uint8Array | undefined;
  let declarations: string | undefined;
  const flags = [...variants[variant], "--outFile", "kernels.wasm", "--bindings", "raw"];
  const { error, stderr } = await asc.main(flags, {
    writeFile(name, contents) {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
      if (name.endsWith(".d.ts") && typeof contents === "string") declarations = contents;
    },
    reportDiagnostic() {},
    // asc resolves sources against the working directory; read them from this package instead.
    readFile: async (name, baseDir) => {
      const { readFile } = await import("node:fs/promises");
      const path = name.startsWith("/") ? name : `${root}/${baseDir}/${name}`;
      try {
        return await readFile(path, "utf8");
      } catch {
        return null;
      }
    },
  });
  if (error !== null || binary === undefined || declarations === undefined) {
    throw new Error(`asc failed for the ${variant} module: ${error?.message}\n${stderr}`);
  }
  return { binary, declarations };
}

/** Compiles every variant. */
export async function compileAll(): Promise<Record<Variant, Build>> {
  return {
    shared: await compileVariant("shared"),
    local: await compileVariant("local"),
    relaxed: await compileVariant("relaxed"),
    relaxedLocal: await compileVariant("relaxedLocal"),
  };
}

/**
 * The fields of ConvArgs in assembly/convArgs.ts, in memory order. Each must be an i32 or a
 * usize (4 bytes in wasm32), so that the JavaScript side can write them as consecutive i32s.
 */
export function readConvArgFields(): string[] {
  const source = readFileSync(`${root}/assembly/convArgs.ts`, "utf8");
  const fields = [...source.matchAll(/^ {2}(\w+): (\w+);$/gm)];
  for (const [line, , type] of fields) {
    if (type !== "i32" && type !== "usize") {
      throw new Error(`assembly/convArgs.ts: "${line.trim()}" is not an i32 or a usize`);
    }
  }
  return fields.map(([, name]) => name!);
}

/**
 * The KernelExports interface for asc's declarations of the exports: each `export function`
 * becomes a method, broken over lines as Prettier would where it passes 100 columns.
 */
export function renderKernelExports(declarations: string): string {
  const functions = [
    ...declarations.matchAll(
      /\* (assembly\/[\w/]+)\/(\w+)\n[^]*?export function (\w+)\(([^)]*)\): (\w+);/g,
    ),
  ];
  const methods = functions.map(([, file, , name, params, result]) => {
    const line = `  ${name}(${params}): ${result};`;
    const onePerLine = params!.split(", ").map((param) => `    ${param},\n`);
    const signature =
      line.length <= 100 ? line : `  ${name}(\n${onePerLine.join("")}  ): ${result};`;
    return `  /** From ${file}.ts. */\n${signature}\n`;
  });
  return (
    "/** The kernels assembly/index.ts exports; addresses are byte offsets into the one " +
    "memory. */\n" +
    `export interface KernelExports {\n${methods.join("")}}\n`
  );
}

/** The text of module.generated.ts for the given builds. */
export function renderModule(builds: Record<Variant, Build>): string {
  const base64 = (variant: Variant) => Buffer.from(builds[variant].binary).toString("base64");
  const fields = readConvArgFields()
    .map((name) => `  "${name}",\n`)
    .join("");
  return (
    "// Generated by scripts/build-wasm.ts from assembly/: do not edit. Rebuild with " +
    "`pnpm build:wasm`.\n\n" +
    "/** The most 64 KiB pages the memory may grow to (2 GiB): a shared memory declares it. */\n" +
    `export const maximumPages = ${MAXIMUM_PAGES};\n\n` +
    "/** The fields of ConvArgs (assembly/convArgs.ts) in memory order, one i32 each. */\n" +
    `export const convArgFields = [\n${fields}] as const;\n\n` +
    renderKernelExports(builds.local.declarations) +
    "\n" +
    "/** The kernels compiled for a shared memory (worker pool), base64. */\n" +
    `export const sharedModule =\n  "${base64("shared")}";\n\n` +
    "/** The same kernels for an ordinary memory (single thread), base64. */\n" +
    `export const localModule =\n  "${base64("local")}";\n\n` +
    "/** The shared-memory kernels with relaxed SIMD (fused multiply-add), base64. */\n" +
    `export const relaxedModule =\n  "${base64("relaxed")}";\n\n` +
    "/** The relaxed-SIMD kernels for an ordinary memory (single-threaded calls), base64. */\n" +
    `export const relaxedLocalModule =\n  "${base64("relaxedLocal")}";\n`
  );
}

export const generatedPath = fileURLToPath(
  new URL("../src/backends/wasm/module.generated.ts", import.meta.url),
);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const builds = await compileAll();
  writeFileSync(generatedPath, renderModule(builds));
  const sizes = Object.values(builds)
    .map((build) => build.binary.length)
    .join(" + ");
  console.log(`wrote ${generatedPath}: ${sizes} bytes of wasm`);
}
