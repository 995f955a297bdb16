// End to end, in a real browser: build the page with Vite, serve dist/ on 127.0.0.1, open it in
// Debian's Chromium (playwright-core, through @tapegrad/test-kit), and watch the CNN learn. It
// must take the loss down and the test accuracy above chance (10%) within a bounded number of
// steps. A screenshot of the finished page is saved to artifacts/screenshot.png.
//
// Needs /usr/bin/chromium (apt-get install chromium); .ci/run installs it when missing.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { closeServer, launchChromium, origin, serveFiles, underRoot } from "@tapegrad/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CROSS_ORIGIN_ISOLATION } from "./vite.config.js";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const artifacts = join(here, "artifacts");
/** Steps the page trains for, and how often it evaluates: a bounded run (~1 epoch). */
const STEPS = 150;
const EVAL_EVERY = 50;

interface Progress {
  status: string;
  step: number;
  losses: number[];
  evaluations: { step: number; accuracy: number }[];
  backend: string;
  isolated: boolean;
  threads: number;
  imagesPerSecond: number[];
  dataset: string;
  error?: string;
}

let server: Server | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  // The same two steps as `pnpm build` in this package: data, then the bundle.
  await run(join(here, "node_modules", ".bin", "tsx"), ["scripts/prepareData.ts"], { cwd: here });
  await run(join(here, "node_modules", ".bin", "vite"), ["build", "--logLevel", "warn"], {
    cwd: here,
  });
  server = await serveFiles([underRoot(dist)], CROSS_ORIGIN_ISOLATION);
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await closeServer(server);
});

describe("the browser example", () => {
  it("trains a CNN in Chromium: the loss falls and test accuracy beats chance", async () => {
    const page = await browser!.newPage({ viewport: { width: 820, height: 1200 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin(server!)}/?steps=${STEPS}&evalEvery=${EVAL_EVERY}`);

    // Responsive while training: the page answers a round trip between slices of work.
    // (Functions passed to the page run there, so each reads window.__tapegrad itself.)
    await page.waitForFunction(
      () => ((Reflect.get(globalThis, "__tapegrad") as Progress | undefined)?.step ?? 0) > 0,
      undefined,
      { timeout: 30_000 },
    );
    const started = Date.now();
    // A script from outside runs only when the page's main thread is free, between slices.
    await page.evaluate(() => 1);
    expect(Date.now() - started).toBeLessThan(2_000);

    await page.waitForFunction(
      () => {
        const status = (Reflect.get(globalThis, "__tapegrad") as Progress | undefined)?.status;
        return status === "done" || status === "error";
      },
      undefined,
      { timeout: 75_000, polling: 250 },
    );
    const progress = await page.evaluate(() => Reflect.get(globalThis, "__tapegrad") as Progress);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, "screenshot.png"), fullPage: true });

    expect(errors).toEqual([]);
    expect(progress.error).toBeUndefined();
    expect(progress.status).toBe("done");
    expect(progress.step).toBe(STEPS);
    expect(progress.losses).toHaveLength(STEPS);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(progress.losses.slice(0, 10));
    const last = mean(progress.losses.slice(-10));
    expect(last).toBeLessThan(first * 0.6);
    // Evaluated at step 0 (untrained), then every EVAL_EVERY steps.
    expect(progress.evaluations.map((e) => e.step)).toEqual([0, 50, 100, 150]);
    const final = progress.evaluations.at(-1)!.accuracy;
    expect(final).toBeGreaterThan(0.1);
    expect(final).toBeGreaterThan(progress.evaluations[0]!.accuracy);
    // The DOM says the same.
    const accuracyAttribute = await page.getAttribute("body", "data-accuracy");
    expect(Number(accuracyAttribute)).toBeCloseTo(final, 4);
    const guesses = await page.locator(".prediction .guess").allTextContents();
    expect(guesses).toHaveLength(16);
    expect(guesses.every((g) => g !== "…")).toBe(true);
    // Served with COOP/COEP, the page is cross-origin isolated and the wasm thread pool runs.
    const cores = await page.evaluate(
      () =>
        (Reflect.get(globalThis, "navigator") as { hardwareConcurrency: number })
          .hardwareConcurrency,
    );
    expect(progress.isolated).toBe(true);
    expect(progress.backend).toBe("wasm");
    if (cores > 1) expect(progress.threads).toBeGreaterThan(1);
    expect(await page.textContent("#threads")).toBe(String(progress.threads));
    console.log(
      `browser: ${progress.dataset}, backend ${progress.backend}; loss ${first.toFixed(3)} → ` +
        `${last.toFixed(3)}; test accuracy ` +
        progress.evaluations.map((e) => `${(100 * e.accuracy).toFixed(1)}%@${e.step}`).join(", "),
    );
    await page.close();
  });

  it("reports training speed with the thread pool and with one thread, in the same run", async () => {
    // Speed is reported, not asserted: wall-clock figures on a shared machine only inform.
    const speeds: Record<string, number> = {};
    for (const threads of ["", "1"]) {
      const page = await browser!.newPage();
      const query = threads === "" ? "" : `&threads=${threads}`;
      await page.goto(`${origin(server!)}/?steps=${STEPS}&evalEvery=${STEPS}${query}`);
      await page.waitForFunction(
        () => (Reflect.get(globalThis, "__tapegrad") as Progress | undefined)?.status === "done",
        undefined,
        { timeout: 75_000, polling: 250 },
      );
      const progress = await page.evaluate(() => Reflect.get(globalThis, "__tapegrad") as Progress);
      const sorted = [...progress.imagesPerSecond].sort((a, b) => a - b);
      expect(sorted.length).toBeGreaterThan(0);
      speeds[`${progress.threads} thread${progress.threads === 1 ? "" : "s"}`] =
        sorted[sorted.length >> 1]!;
      if (threads === "1") expect(progress.threads).toBe(1);
      await page.close();
    }
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, "threads.json"), JSON.stringify(speeds, null, 2));
    console.log(
      `browser training speed (median images/s): ${Object.entries(speeds)
        .map(([k, v]) => `${k} ${Math.round(v)}`)
        .join(", ")}`,
    );
  }, 180_000);
});
