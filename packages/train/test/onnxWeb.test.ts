// The exported model in a browser: ONNX Runtime Web (its wasm backend) in Debian's headless
// Chromium runs model.onnx of a ResNet with batch norm and must give tapegrad's logits.
//
// Needs /usr/bin/chromium (apt-get install chromium); .ci/run installs it when missing.
import { mkdtempSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prng } from "@tapegrad/autodiff";
import { exportOnnx } from "@tapegrad/nn/onnx";
import { closeServer, launchChromium, origin, serveFiles, underRoot } from "@tapegrad/test-kit";
import { resnet } from "../src/models.js";

const ORT_DIST = dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));

// The page loads ONNX Runtime Web's wasm-only ES module build and the model, and exposes a
// function the test calls with an input.
const PAGE = `<!doctype html>
<script type="module">
  import * as ort from "/ort/ort.wasm.min.mjs";
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = 1;
  const model = new Uint8Array(await (await fetch("/model.onnx")).arrayBuffer());
  const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
  globalThis.runModel = async (data, dims) => {
    const input = new ort.Tensor("float32", Float32Array.from(data), dims);
    const { output } = await session.run({ input });
    return { dims: output.dims, data: Array.from(output.data), version: ort.env.versions.web };
  };
</script>`;

interface Result {
  dims: number[];
  data: number[];
  version: string;
}

let server: Server | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await closeServer(server);
});

describe("ONNX export, run by ONNX Runtime Web in Chromium", () => {
  it("gives tapegrad's eval-mode logits for a ResNet with trained batch norm statistics", async () => {
    const model = resnet();
    const rng = prng(6);
    const { params, state: initial } = model.init(rng);
    const [, state] = model.applyWithState(params, initial, rng.normal([8, 1, 28, 28]), {
      training: true,
    });
    const site = mkdtempSync(join(tmpdir(), "onnx-web-"));
    writeFileSync(join(site, "index.html"), PAGE);
    writeFileSync(
      join(site, "model.onnx"),
      exportOnnx(model, params, state, { inputShape: [1, 1, 28, 28] }),
    );
    const ort = underRoot(ORT_DIST);
    server = await serveFiles([
      underRoot(site),
      (path) => (path.startsWith("/ort/") ? ort(path.slice("/ort".length)) : undefined),
    ]);
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin(server)}/`);
    await page.waitForFunction(() => typeof Reflect.get(globalThis, "runModel") === "function", {
      timeout: 30_000,
    });

    const x = prng(7).normal([3, 1, 28, 28]);
    const result = await page.evaluate(
      ([data, dims]) =>
        (Reflect.get(globalThis, "runModel") as (d: number[], s: number[]) => Promise<Result>)(
          data,
          dims,
        ),
      [Array.from(x.data), [...x.shape]] as [number[], number[]],
    );
    const expected = model.apply(params, x, { state });
    expect(errors).toEqual([]);
    expect(result.dims).toEqual([3, 10]);
    let most = 0;
    result.data.forEach((v, i) => (most = Math.max(most, Math.abs(v - expected.data[i]!))));
    console.log(`ONNX Runtime Web ${result.version} in Chromium vs tapegrad: max |Δlogit| ${most}`);
    expect(most).toBeLessThanOrEqual(1e-4);
    await page.close();
  }, 60_000);
});
