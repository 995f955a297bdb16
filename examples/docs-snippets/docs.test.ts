// Every ```ts block in README.md and docs/*.md is a test, so the documentation cannot rot.
//
// Each block is written to its own file and run by tsx in a separate process: snippets register
// ops (a duplicate op name is an error), so they must not share one registry. All blocks are
// also type-checked together by tsc under the repository's strict settings. A block whose info
// string says `no-run` (```ts no-run) is skipped by both; keep those rare and say why beside them.
// A block marked `quote=<path>` is an excerpt of the source: it must appear in that file, line for
// line (ignoring indentation), so quoted code cannot drift from the code it quotes.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
// Inside the repository, so that bare imports (vitest, fast-check) resolve from its node_modules
// and tsx applies the tsconfig paths that map @tapegrad/* to the sources; ignored by git.
const workDir = join(here, ".snippets");

/** One fenced TypeScript block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based index among the file's ```ts blocks. */
  readonly index: number;
  /** Line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly skip: boolean;
  /** The source file a `quote=<path>` block excerpts, relative to the repository root. */
  readonly quote?: string;
}

/** The ```ts / ```typescript blocks of one Markdown text, with their info strings honoured. */
export function extractSnippets(file: string, markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, , info] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      if (lines[j]!.trim().startsWith(fence) && lines[j]!.trim().replace(/[`~]/g, "") === "") break;
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!);
    }
    const quote = /\bquote=(\S+)/.exec(info)?.[1];
    snippets.push({
      file,
      index: snippets.length + 1,
      line: i + 1,
      code: body.join("\n"),
      skip: /\bno-run\b/.test(info),
      ...(quote === undefined ? {} : { quote }),
    });
    i = j;
  }
  return snippets;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => join("docs", name));
  return ["README.md", ...docs];
}

const snippets = markdownFiles().flatMap((file) =>
  extractSnippets(file, readFileSync(join(root, file), "utf8")),
);
const runnable = snippets.filter((s) => !s.skip && s.quote === undefined);
const quotes = snippets.filter((s) => s.quote !== undefined);

/** Whether `excerpt`'s lines occur consecutively in `text`, compared without indentation. */
export function containsLines(text: string, excerpt: string): boolean {
  const lines = text.split("\n").map((l) => l.trim());
  const wanted = excerpt
    .split("\n")
    .map((l) => l.trim())
    .filter((l, i, all) => l !== "" || (i > 0 && i < all.length - 1));
  if (wanted.length === 0) return false;
  outer: for (let start = 0; start + wanted.length <= lines.length; start++) {
    for (let k = 0; k < wanted.length; k++) if (lines[start + k] !== wanted[k]) continue outer;
    return true;
  }
  return false;
}

function fileName(s: Snippet): string {
  return `${s.file.replace(/[/.]/g, "_")}_block${s.index}.ts`;
}

function label(s: Snippet): string {
  return `${s.file} block ${s.index} (line ${s.line})`;
}

/** `export {}` makes every snippet a module, so top-level names never collide in tsc. */
function source(s: Snippet): string {
  return `// ${label(s)}\n${s.code}\nexport {};\n`;
}

beforeAll(() => {
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, ".gitignore"), "*\n");
  for (const s of runnable) writeFileSync(join(workDir, fileName(s)), source(s));
  writeFileSync(
    join(workDir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../../tsconfig.base.json",
      compilerOptions: { noEmit: true },
      include: ["*.ts"],
    }),
  );
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const tsx = join(root, "node_modules", ".bin", "tsx");
const tsc = join(root, "node_modules", ".bin", "tsc");

describe("documentation snippets", () => {
  it("finds the snippets, and skips few", () => {
    expect(runnable.length).toBeGreaterThan(20);
    expect(snippets.filter((s) => s.skip).length).toBeLessThanOrEqual(3);
  });

  describe("quotes match the source they quote", () => {
    for (const s of quotes) {
      it(`${label(s)}: ${s.quote}`, () => {
        const text = readFileSync(join(root, s.quote!), "utf8");
        if (!containsLines(text, s.code)) {
          throw new Error(`${label(s)} no longer matches ${s.quote}; update the quote`);
        }
      });
    }
  });

  it("type-check", async () => {
    try {
      await run(tsc, ["-p", join(workDir, "tsconfig.json")], { cwd: root, timeout: 100_000 });
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      // tsc reports `.snippets/<file>(line,col)`: name the Markdown file and block instead.
      const report = `${stdout}${stderr}`.replace(/\S*?([\w-]+)_block(\d+)\.ts/g, (_m, f, i) => {
        const s = runnable.find((r) => fileName(r) === `${f}_block${i}.ts`);
        return s === undefined ? _m : label(s);
      });
      throw new Error(`documentation snippets do not type-check:\n${report}`);
    }
  });

  describe.concurrent("run", () => {
    for (const s of runnable) {
      it(label(s), async () => {
        const path = join(workDir, fileName(s));
        try {
          await run(tsx, [relative(root, path)], { cwd: root, timeout: 60_000 });
        } catch (error) {
          const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
          throw new Error(`${label(s)} failed:\n${stderr || stdout || String(error)}`);
        }
      });
    }
  });
});
