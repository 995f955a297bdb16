import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// What `npm pack` puts in each published package's tarball, checked on the built packages (the
// test command builds before it tests; `prepack` builds before a real pack). Scripts are not run
// here, so a package whose dist/ is missing fails instead of being rebuilt.

const root = fileURLToPath(new URL("..", import.meta.url));
const PUBLISHED = ["autodiff", "nn", "data"] as const;

interface PackedFile {
  readonly path: string;
  readonly size: number;
}

/** The files `npm pack` would put in the package's tarball. */
function packedFiles(dir: string): string[] {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, npm_config_loglevel: "silent" },
  });
  return (JSON.parse(out) as [{ files: PackedFile[] }])[0].files.map((f) => f.path);
}

/** Every file an `exports` map (and main/types) points to, without the leading "./". */
function exportTargets(manifest: Record<string, unknown>): string[] {
  const targets: string[] = [];
  const visit = (value: unknown) => {
    if (typeof value === "string") targets.push(value.replace(/^\.\//, ""));
    else if (value !== null && typeof value === "object") Object.values(value).forEach(visit);
  };
  visit(manifest["exports"]);
  visit(manifest["main"]);
  visit(manifest["types"]);
  return targets;
}

describe.each(PUBLISHED)("the @tapegrad/%s tarball", (name) => {
  const dir = join(root, "packages", name);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<
    string,
    unknown
  >;
  const files = packedFiles(dir);

  it("holds the built entry points, their types and a README, and no tests", () => {
    expect(files).toContain("README.md");
    for (const target of exportTargets(manifest)) expect(files).toContain(target);
    expect(files.filter((f) => /\.test\.|(^|\/)test\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith("src/"))).toEqual([]);
  });

  it("builds before packing and says it is ESM", () => {
    expect((manifest["scripts"] as Record<string, string>)["prepack"]).toMatch(/build/);
    expect(manifest["type"]).toBe("module");
  });

  it("ships source maps that carry their sources", () => {
    const maps = files.filter((f) => f.endsWith(".js.map"));
    expect(maps.length).toBe(files.filter((f) => f.endsWith(".js")).length);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(dir, map), "utf8")) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(sourcesContent?.length, map).toBe(sources.length);
      expect(sourcesContent!.every((text) => typeof text === "string" && text.length > 0)).toBe(
        true,
      );
    }
  });
});
