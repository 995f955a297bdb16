import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { chromium, type Browser } from "playwright-core";

// Shared by the end-to-end tests that run in a real browser (the browser example, ONNX Runtime
// Web): Debian's Chromium, headless, and a static file server on 127.0.0.1.

/** Debian's Chromium; `.ci/run` installs it when missing. */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Headless Chromium, or an error that says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".gz": "application/octet-stream",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/** Where a URL path's file is (undefined: 404), given the path. */
export type Route = (path: string) => string | undefined;

/** The file under `root` a path names, never outside it. */
export function underRoot(root: string): Route {
  return (path) => {
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    return file.startsWith(root + sep) ? file : undefined;
  };
}

/**
 * A static file server on 127.0.0.1 and a free port: each request goes to the first route that
 * names an existing file. Every response carries `headers` (COOP/COEP for a page that needs
 * cross-origin isolation).
 */
export function serveFiles(
  routes: readonly Route[],
  headers: Readonly<Record<string, string>> = {},
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    const file = routes
      .map((route) => route(path))
      .find((f) => f !== undefined && existsSync(f) && statSync(f).isFile());
    if (file === undefined) {
      response.writeHead(404).end("not found");
      return;
    }
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    response.writeHead(200, { "content-type": type, ...headers }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** http://127.0.0.1:port of a listening server. */
export function origin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server started by serveFiles, if any. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
